/* SPDX-License-Identifier: Apache-2.0 */
/* Workload derivation (collector/workload.c): from a pod's controller owner reference, as the
 * kubelet's /pods lists it, and from pod names alone. Names are shaped like those the
 * controllers of Kubernetes generate (k8s.io/apimachinery rand.SafeEncodeString alphabet for
 * hashes and random suffixes; CronJob Jobs named by their scheduled minute). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "collector/workload.h"

static void owner_is(const char *pod, const char *kind, const char *name, const char *want_kind,
                     const char *want_name)
{
    struct hk_workload w;
    assert_int_equal(hk_workload_from_owner(pod, kind, name, &w), 0);
    assert_string_equal(w.kind, want_kind);
    assert_string_equal(w.name, want_name);
}

static void name_is(const char *pod, const char *want_kind, const char *want_name)
{
    struct hk_workload w;
    assert_int_equal(hk_workload_from_pod_name(pod, &w), 0);
    assert_string_equal(w.kind, want_kind);
    assert_string_equal(w.name, want_name);
}

static void test_from_owner(void **state)
{
    (void)state;
    /* ReplicaSet <deployment>-<pod-template-hash> → Deployment. */
    owner_is("coredns-5d78c9869d-8dzl4", "ReplicaSet", "coredns-5d78c9869d", "Deployment",
             "coredns");
    owner_is("my-app-6b9c7f8d4-k2x9z", "ReplicaSet", "my-app-6b9c7f8d4", "Deployment", "my-app");
    /* A ReplicaSet whose last part is no hash stays a ReplicaSet ('1' and vowels are not in the
     * hash alphabet; 11 characters is too long). */
    owner_is("frontend-x2k4q", "ReplicaSet", "frontend", "ReplicaSet", "frontend");
    owner_is("rs-1-x2k4q", "ReplicaSet", "rs-1", "ReplicaSet", "rs-1");
    owner_is("a-x2k4q", "ReplicaSet", "web-db-v1", "ReplicaSet", "web-db-v1");
    owner_is("a-x2k4q", "ReplicaSet", "web-bcdfghjklm2", "ReplicaSet", "web-bcdfghjklm2");
    owner_is("a-x2k4q", "ReplicaSet", "-5d78c", "ReplicaSet", "-5d78c");
    /* Job <cronjob>-<scheduled minute> → CronJob; other Jobs stay Jobs. */
    owner_is("hello-27941460-xn5qk", "Job", "hello-27941460", "CronJob", "hello");
    owner_is("db-backup-28301234-9zq2b", "Job", "db-backup-28301234", "CronJob", "db-backup");
    owner_is("migrate-x2k4q", "Job", "migrate", "Job", "migrate");
    owner_is("migrate-v2-x2k4q", "Job", "migrate-v2", "Job", "migrate-v2");
    /* Owners kept as they are. */
    owner_is("web-0", "StatefulSet", "web", "StatefulSet", "web");
    owner_is("kube-proxy-2xbxm", "DaemonSet", "kube-proxy", "DaemonSet", "kube-proxy");
    owner_is("api-6f9d8b7c5-q2w4x", "Rollout", "api", "Rollout", "api");
    /* Static pods (mirror owned by the Node) and bare pods are their own workload. */
    owner_is("etcd-kind-control-plane", "Node", "kind-control-plane", "Pod",
             "etcd-kind-control-plane");
    owner_is("debug", NULL, NULL, "Pod", "debug");
    owner_is("debug", "", "", "Pod", "debug");
    owner_is("debug", "ReplicaSet", NULL, "Pod", "debug");
}

static void test_from_pod_name(void **state)
{
    (void)state;
    name_is("coredns-5d78c9869d-8dzl4", "Deployment", "coredns");
    name_is("my-app-6b9c7f8d4-k2x9z", "Deployment", "my-app");
    name_is("api-7d9f8-x2k4q", "Deployment", "api");
    name_is("hello-27941460-xn5qk", "CronJob", "hello");
    name_is("kube-proxy-2xbxm", "DaemonSet", "kube-proxy");
    name_is("node-exporter-9pkqz", "DaemonSet", "node-exporter");
    name_is("web-0", "StatefulSet", "web");
    name_is("mysql-primary-12", "StatefulSet", "mysql-primary");
    /* Not an ordinal (leading zero), not a suffix (vowels, wrong length), no dash: bare. */
    name_is("web-01", "Pod", "web-01");
    name_is("batch-28301", "Pod", "batch-28301");
    name_is("web-9999", "StatefulSet", "web");
    name_is("nginx", "Pod", "nginx");
    name_is("etcd-kind-control-plane", "Pod", "etcd-kind-control-plane");
    name_is("debug-abcde", "Pod", "debug-abcde");
    name_is("x-2xbxmm", "Pod", "x-2xbxmm");
    name_is("-2xbxm", "Pod", "-2xbxm");
    name_is("-0", "Pod", "-0");
    /* The documented ambiguities: a plain Job's pod reads as a DaemonSet's; a name part without
     * vowels before a random suffix reads as a pod-template-hash. */
    name_is("migrate-x2k4q", "DaemonSet", "migrate");
    name_is("csi-k8s-x2k4q", "Deployment", "csi");
}

static void test_bounds(void **state)
{
    (void)state;
    struct hk_workload w;
    char long_name[400];
    memset(long_name, 'b', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(hk_workload_from_pod_name(long_name, &w), -EINVAL);
    assert_int_equal(hk_workload_from_owner("p", "ReplicaSet", long_name, &w), -EINVAL);
    assert_int_equal(hk_workload_from_owner("p", long_name, "x", &w), -EINVAL);
    assert_int_equal(hk_workload_from_pod_name("", &w), -EINVAL);
    assert_int_equal(hk_workload_from_owner(NULL, "Job", "x", &w), -EINVAL);
    assert_true(hk_workload_is_hash("5d78c9869d", 10, 1, 10));
    assert_false(hk_workload_is_hash("5d78c9869d1", 11, 1, 10));
    assert_false(hk_workload_is_hash("", 0, 1, 10));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_owner),
        cmocka_unit_test(test_from_pod_name),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
