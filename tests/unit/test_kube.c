/* SPDX-License-Identifier: Apache-2.0 */
/* Runtime records and kubelet pod lists whose strings decode to a NUL byte are refused: cJSON
 * would end the string there, and "web\u0000a" / "web\u0000b" would both name pod "web". */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "collector/cgroup_internal.h"
#include "core/labels.h"

#define S(s) s, sizeof(s) - 1
#define ID64 "4cfc8596883c222c82e5cbbc16c3e8eade034b688ea2d7cf365f16d6e2df1181"

#define CONTAINERD(pod)                                                                           \
    "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","                      \
    "\"io.kubernetes.cri.container-name\":\"nginx\","                                             \
    "\"io.kubernetes.cri.image-name\":\"nginx:1.25\","                                            \
    "\"io.kubernetes.cri.sandbox-name\":\"" pod "\","                                             \
    "\"io.kubernetes.cri.sandbox-namespace\":\"shop\"}}"

static void test_containerd_nul(void **state)
{
    (void)state;
    struct hk_kube_meta m = {0};
    /* Control: without a NUL the pod name is read whole. */
    assert_int_equal(hk_kube_parse_containerd_oci(S(CONTAINERD("web-a")), ID64, "", &m), 0);
    assert_string_equal(m.pod, "web-a");
    hk_kube_meta_clear(&m);
    assert_int_equal(hk_kube_parse_containerd_oci(S(CONTAINERD("web\\u0000a")), ID64, "", &m),
                     -EINVAL);
    assert_int_equal(hk_kube_parse_containerd_oci(S(CONTAINERD("web\\u0000b")), ID64, "", &m),
                     -EINVAL);
    /* An escaped backslash followed by the text u0000 is no NUL. */
    assert_int_equal(hk_kube_parse_containerd_oci(S(CONTAINERD("web\\\\u0000")), ID64, "", &m), 0);
    assert_string_equal(m.pod, "web\\u0000");
    hk_kube_meta_clear(&m);
    /* A raw NUL byte inside the record. */
    static const char raw[] = CONTAINERD("web\0a");
    assert_int_equal(hk_kube_parse_containerd_oci(raw, sizeof(raw) - 1, ID64, "", &m), -EINVAL);
}

static void test_docker_and_crio_nul(void **state)
{
    (void)state;
    struct hk_kube_meta m = {0};
    static const char docker[] =
        "{\"Name\":\"/k8s_nginx\",\"Config\":{\"Image\":\"nginx\",\"Labels\":{"
        "\"io.kubernetes.container.name\":\"nginx\",\"io.kubernetes.pod.name\":\"web\\u0000x\","
        "\"io.kubernetes.pod.namespace\":\"shop\"}}}";
    assert_int_equal(hk_kube_parse_docker(S(docker), &m), -EINVAL);
    /* CRI-O keeps the labels as a JSON string inside the record: a NUL escaped twice. */
    static const char crio[] =
        "{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"container\","
        "\"io.kubernetes.cri-o.Labels\":\"{\\\"io.kubernetes.pod.name\\\":\\\"web\\\\u0000x\\\"}\"}}";
    assert_int_equal(hk_kube_parse_crio_oci(S(crio), &m), 0);
    /* The inner labels are refused: the pod name is not taken from them. */
    assert_string_equal(m.pod, "");
    hk_kube_meta_clear(&m);
    static const char crio_ok[] =
        "{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"container\","
        "\"io.kubernetes.cri-o.Labels\":\"{\\\"io.kubernetes.pod.name\\\":\\\"web-x\\\"}\"}}";
    assert_int_equal(hk_kube_parse_crio_oci(S(crio_ok), &m), 0);
    assert_string_equal(m.pod, "web-x");
    hk_kube_meta_clear(&m);
}

static void test_sandbox_image_nul(void **state)
{
    (void)state;
    char img[64];
    static const char ok[] = "  sandbox_image = \"registry.k8s.io/pause:3.9\"\n";
    assert_int_equal(hk_kube_parse_sandbox_image(S(ok), img, sizeof(img)), 0);
    assert_string_equal(img, "registry.k8s.io/pause:3.9");
    static const char nul[] = "  sandbox_image = \"pause\0evil:3.9\"\n";
    assert_int_equal(hk_kube_parse_sandbox_image(nul, sizeof(nul) - 1, img, sizeof(img)), -EINVAL);
    static const char bad_utf8[] = "  sandbox_image = \"pause\xff:3.9\"\n";
    assert_int_equal(hk_kube_parse_sandbox_image(S(bad_utf8), img, sizeof(img)), -EINVAL);
}

static int pods_seen;

static void on_pod(const char *uid, const char *name, const char *ns,
                   const struct hk_kubelet_owner *owner, const struct hk_kubelet_container *cs,
                   size_t n, void *ud)
{
    (void)uid, (void)name, (void)ns, (void)owner, (void)cs, (void)n, (void)ud;
    pods_seen++;
}

static void test_kubelet_nul(void **state)
{
    (void)state;
    static const char ok[] =
        "{\"kind\":\"PodList\",\"items\":[{\"metadata\":{\"uid\":\"u1\",\"name\":\"web\","
        "\"namespace\":\"shop\"}}]}";
    static const char bad[] =
        "{\"kind\":\"PodList\",\"items\":[{\"metadata\":{\"uid\":\"u1\",\"name\":\"web\\u0000a\","
        "\"namespace\":\"shop\"}}]}";
    pods_seen = 0;
    assert_int_equal(hk_kubelet_parse_pods(S(ok), on_pod, NULL), 1);
    assert_int_equal(pods_seen, 1);
    assert_int_equal(hk_kubelet_parse_pods(S(bad), on_pod, NULL), -EINVAL);
    assert_int_equal(pods_seen, 1);
}

static void test_helpers(void **state)
{
    (void)state;
    assert_true(hk_label_value_valid(S("a\xc3\xa9")));
    assert_false(hk_label_value_valid(S("a\0b")));
    assert_false(hk_label_value_valid(S("a\xff")));
    assert_true(hk_json_has_nul(S("{\"a\":\"\\u0000\"}")));
    assert_false(hk_json_has_nul(S("{\"a\":\"\\u0001\"}")));
    assert_false(hk_json_has_nul(S("{\"a\":\"\\\\u0000\"}")));
    assert_true(hk_json_has_nul(S("{\"a\":\"\\\\\\u0000\"}")));
    assert_false(hk_json_has_nul(S("\\u000")));
    assert_false(hk_json_has_nul("\"\\u0000\"", 5)); /* the 4 digits cut off */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_containerd_nul),
        cmocka_unit_test(test_docker_and_crio_nul),
        cmocka_unit_test(test_kubelet_nul),
        cmocka_unit_test(test_sandbox_image_nul),
        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
