/* `vessel image build DIR -o OUT`: the appliance image (README.md,
 * "The appliance"; tools/appliance/image_build.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "appliance/image_build.h"
#include "exit_codes.h"
#include "image_cli.h"

void usage_image(FILE *out)
{
	fprintf(out,
		"usage: vessel image build DIR -o OUT [--format disk|kernel+initrd]\n"
		"                          [--kernel FILE] [--moddir DIR]\n"
		"\n"
		"Build a bootable appliance from DIR/host.yaml and DIR/guests/*.yaml\n"
		"(with the kernels, initrds, disks and root file systems they use):\n"
		"vessel as init (with the shared libraries it needs), the guests'\n"
		"definitions, the host's kernel modules,\n"
		"a static busybox; the same inputs give the same bytes\n"
		"(SOURCE_DATE_EPOCH sets the files' time, default 0).\n"
		"\n"
		"options:\n"
		"  -o, --output OUT   where to write it (replaced if it exists)\n"
		"  --format disk      (default) a raw GPT disk image: an EFI system\n"
		"                     partition with a unified kernel image, and the\n"
		"                     data partition (host.yaml data:) with the VM disks\n"
		"  --format kernel+initrd\n"
		"                     a directory: vmlinuz, initrd.img, cmdline and\n"
		"                     data.img (the data file system, if any)\n"
		"  --kernel FILE      the host kernel (default: host.yaml kernel:, else\n"
		"                     /boot/vmlinuz-`uname -r`)\n"
		"  --moddir DIR       its modules (default /lib/modules/RELEASE)\n"
		"  -h, --help         this help\n"
		"\n"
		"exit status: 0 built; 1 a host-side failure; 2 bad input (a guest\n"
		"failing `vessel check`, a missing file, a kernel without a needed\n"
		"module, a VM disk with no data partition).\n");
}

static void print_size(const char *what, uint64_t bytes)
{
	printf("%s: %llu bytes (%.1f MiB)\n", what, (unsigned long long)bytes,
	       (double)bytes / (1 << 20));
}

static int cmd_image_build(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'f' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "moddir", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct image_opts o = { .format = IMAGE_DISK };
	struct image_report rep;
	struct error err = { 0 };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage_image(stdout);
			return 0;
		case 'o':
			o.out = optarg;
			break;
		case 'f':
			if (!strcmp(optarg, "disk")) {
				o.format = IMAGE_DISK;
			} else if (!strcmp(optarg, "kernel+initrd")) {
				o.format = IMAGE_KERNEL_INITRD;
			} else {
				fprintf(stderr, "vessel image build: --format: "
					"'%s' is not disk or kernel+initrd\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'k':
			o.kernel = optarg;
			break;
		case 'm':
			o.moddir = optarg;
			break;
		default:
			usage_image(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !o.out) {
		usage_image(stderr);
		return EXIT_USAGE;
	}
	o.dir = argv[optind];
	if (image_build(&o, &rep, &err) < 0) {
		fprintf(stderr, "vessel: %s\n", err.msg);
		return err.input ? EXIT_USAGE : EXIT_HOST;
	}
	printf("built %s: %zu guests, kernel %s, %zu modules, %zu files\n",
	       o.out, rep.nguests, rep.release, rep.nmodules, rep.nfiles);
	print_size("image", rep.image_bytes);
	print_size("initramfs", rep.initrd_bytes);
	print_size("initramfs (uncompressed)", rep.initrd_raw);
	if (rep.esp_bytes)
		print_size("EFI system partition", rep.esp_bytes);
	if (rep.data_bytes)
		print_size("data partition", rep.data_bytes);
	return 0;
}

int cmd_image(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage_image(stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "build")) {
		usage_image(stderr);
		return EXIT_USAGE;
	}
	return cmd_image_build(argc - 1, argv + 1);
}
