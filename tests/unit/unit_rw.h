/* SPDX-License-Identifier: Apache-2.0 */
/* Remote-write helpers the pipeline unit tests share: start hk_rw from a YAML config written
 * into a scratch directory, open one endpoint's durable queue there, and remove the directory.
 * Include after <cmocka.h>. */
#ifndef HK_UNIT_RW_H
#define HK_UNIT_RW_H

#include <stdio.h>
#include <stdlib.h>

#include "core/config.h"
#include "core/snapshot.h"
#include "exporter/rw.h"
#include "exporter/rw_queue.h"
#include "unit_files.h"

struct hk_test_rw {
    struct hk_config cfg;
    struct hk_registry *reg;
    struct hk_rw *rw;
};

/* Writes yml to dir/c.yml, loads it and starts remote write on a fresh registry. */
static inline void hk_test_rw_start(struct hk_test_rw *t, const char *dir, const char *yml)
{
    char path[300];
    struct hk_error err = {""};
    hk_test_put(dir, "c.yml", yml);
    snprintf(path, sizeof(path), "%s/c.yml", dir);
    hk_config_init(&t->cfg);
    assert_int_equal(hk_config_load(&t->cfg, path, NULL, 0, &err), 0);
    t->reg = hk_registry_new();
    t->rw = NULL;
    assert_int_equal(hk_rw_start(&t->cfg, t->reg, &t->rw, &err), 0);
}

/* Stops the senders (everything published so far is in the queues) and frees it all. */
static inline void hk_test_rw_stop(struct hk_test_rw *t)
{
    hk_rw_stop(t->rw);
    hk_registry_free(t->reg);
    hk_config_free(&t->cfg);
}

/* The queue of the remote_write entry `name` whose disk_path is dir/q. */
static inline struct hk_rw_queue *hk_test_rw_queue(const char *dir, const char *name)
{
    char qdir[300];
    snprintf(qdir, sizeof(qdir), "%s/q/%s", dir, name);
    struct hk_rw_queue_opts o = {qdir, 0, 0, false};
    struct hk_rw_queue *q = NULL;
    assert_int_equal(hk_rw_queue_open(&o, &q), 0);
    return q;
}

static inline void hk_test_rmtree(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

#endif
