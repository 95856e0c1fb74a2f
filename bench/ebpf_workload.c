/* SPDX-License-Identifier: Apache-2.0 */
/* Workloads for the eBPF overhead benchmark (bench/ebpf.sh): each runs N operations and prints
 * the mean wall time per operation in ns.
 *   getppid N    N getppid() syscalls                         (syscall hooks)
 *   pingpong N   N round trips of one byte over two pipes between two processes pinned to one
 *                CPU: 2 wakeups + 2 context switches per round trip   (run-queue hooks)
 *   connect N    N loopback TCP connect + accept + close             (TCP state hooks) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set);
}

static double run_getppid(long n)
{
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        (void)getppid();
    return (now_ns() - t0) / (double)n;
}

static double run_pingpong(long n)
{
    int a[2], b[2];
    char c = 'x';
    if (pipe(a) < 0 || pipe(b) < 0)
        return -1;
    pin(1);
    pid_t pid = fork();
    if (pid == 0) {
        for (long i = 0; i < n; i++)
            if (read(a[0], &c, 1) != 1 || write(b[1], &c, 1) != 1)
                _exit(1);
        _exit(0);
    }
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        if (write(a[1], &c, 1) != 1 || read(b[0], &c, 1) != 1)
            return -1;
    double t = (now_ns() - t0) / (double)n;
    waitpid(pid, NULL, 0);
    return t;
}

static double run_connect(long n)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 128) < 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &sl) < 0)
        return -1;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            return -1;
        int s = accept(ls, NULL, NULL);
        if (s < 0)
            return -1;
        /* Server closes first: the client socket does not linger in TIME_WAIT and exhaust
         * ports; the client's close then completes the teardown. */
        close(s);
        close(c);
    }
    double t = (now_ns() - t0) / (double)n;
    close(ls);
    return t;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: ebpf_workload getppid|pingpong|connect N\n");
        return 2;
    }
    char *end;
    long n = strtol(argv[2], &end, 10);
    if (*end || n <= 0)
        return 2;
    double t;
    if (!strcmp(argv[1], "getppid"))
        t = run_getppid(n);
    else if (!strcmp(argv[1], "pingpong"))
        t = run_pingpong(n);
    else if (!strcmp(argv[1], "connect"))
        t = run_connect(n);
    else
        return 2;
    if (t < 0) {
        fprintf(stderr, "ebpf_workload: %s failed: %s\n", argv[1], strerror(errno));
        return 1;
    }
    printf("%.1f\n", t);
    return 0;
}
