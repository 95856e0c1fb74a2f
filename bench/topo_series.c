/* SPDX-License-Identifier: Apache-2.0 */
/* Topology edges (collector/ebpf_topo.c) at node scale, without a kernel: 200 pods, each the
 * client of 10 others and the server of 10 (kernel entries fed as the tcp probe's map would
 * hold them), over 30 cycles. Prints edges and exposed series per container, the user-space cost
 * per kernel entry per cycle, and heap in use; then the same pods each talking to 1000 peers
 * with the default cap of 64, to show the cap holding series and memory flat. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/ebpf_topo.h"
#include "core/snapshot.h"

#define PODS 200
#define CYCLES 30

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void run(unsigned peers, unsigned cap)
{
    size_t heap0 = mallinfo2().uordblks;
    struct hk_topo *t = hk_topo_new(cap, 5 * 60 * 1000, NULL, NULL);
    char ids[PODS][48], pods[PODS][16];
    for (int i = 0; i < PODS; i++) {
        snprintf(ids[i], sizeof(ids[i]), "/kubepods/besteffort/pod%04d/app", i);
        snprintf(pods[i], sizeof(pods[i]), "pod-%d", i);
    }
    double ns = 0;
    size_t adds = 0, series = 0, heap_mid = 0;
    for (int cyc = 1; cyc <= CYCLES; cyc++) {
        hk_topo_begin(t, cyc * 10000);
        double t0 = now_ns();
        for (int i = 0; i < PODS; i++) {
            const char *base[] = {"app", ids[i], "img:1", ids[i] + 26, "default", pods[i]};
            for (unsigned k = 1; k <= peers; k++)
                for (int dir = 0; dir < 2; dir++) {
                    struct hk_topo_kentry e;
                    memset(&e, 0, sizeof(e));
                    e.cgid = 1000 + (uint64_t)i;
                    unsigned peer = dir == 0 ? i + k : i + 100000 - k; /* distinct addresses */
                    e.addr[10] = e.addr[11] = 0xff;
                    e.addr[12] = 10;
                    e.addr[13] = (uint8_t)(peer >> 16);
                    e.addr[14] = (uint8_t)(peer >> 8);
                    e.addr[15] = (uint8_t)peer;
                    e.port = 8080;
                    e.direction = (uint8_t)dir;
                    e.v[HK_TOPO_CONN] = (uint64_t)cyc * 10;
                    e.v[HK_TOPO_RTT_US] = (uint64_t)cyc * 500;
                    e.v[HK_TOPO_RTT_N] = (uint64_t)cyc * 10;
                    hk_topo_add(t, &e, base, false);
                    adds++;
                }
        }
        hk_topo_end(t, NULL, NULL);
        ns += now_ns() - t0;
        if (cyc == CYCLES / 2)
            heap_mid = mallinfo2().uordblks;
        if (cyc == CYCLES) {
            struct hk_builder *b = hk_builder_new(NULL);
            hk_builder_begin(b, "ebpf");
            hk_topo_emit(t, b);
            series = hk_builder_section_series(b);
            hk_builder_commit(b);
            struct hk_snapshot *s = hk_builder_seal(b, 0, NULL);
            hk_snapshot_unref(s);
        }
    }
    size_t heap = mallinfo2().uordblks;
    printf("topology %d pods x %u peers each way, cap %u: %.1f edges/container, %.1f series/"
           "container (%zu in all), %.0f ns per kernel entry per cycle, heap %.1f KiB at cycle "
           "%d, %.1f KiB at cycle %d (%.0f B per edge)\n",
           PODS, peers, cap, (double)hk_topo_edges(t) / PODS, (double)(series - 1) / PODS, series,
           ns / (double)adds, (heap_mid - heap0) / 1024.0, CYCLES / 2, (heap - heap0) / 1024.0,
           CYCLES, (double)(heap - heap0) / (double)hk_topo_edges(t));
    hk_topo_free(t);
}

int main(void)
{
    run(10, 64);
    run(1000, 64);
    return 0;
}
