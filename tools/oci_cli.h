/* The OCI runtime command line (cmd_oci.c): argv[0] is the program
 * name; argv[1..] the global options, the command and its arguments. */
#ifndef VESSEL_OCI_CLI_H
#define VESSEL_OCI_CLI_H

int oci_main(const char *prog, int argc, char **argv);

#endif
