/* `vessel image` (tools/cmd_image.c). */
#ifndef VESSEL_IMAGE_CLI_H
#define VESSEL_IMAGE_CLI_H

#include <stdio.h>

int cmd_image(int argc, char **argv);
void usage_image(FILE *out);

#endif
