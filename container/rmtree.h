/* rm -rf that stays on one filesystem and never follows symlinks. */
#ifndef VESSEL_RMTREE_H
#define VESSEL_RMTREE_H

#include "../tools/error.h"

/* 0 if path is gone afterwards (or was already). */
int rmtree(const char *path, struct error *err);

#endif
