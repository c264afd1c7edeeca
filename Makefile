# vessel: a minimal hypervisor and container runtime on /dev/kvm.
#   make            build ./vessel
#   make test       unit, tiny-guest KVM, container, management, kernel integration, OCI runtime and backup tests,
#                   one table at the end (tests/run-all.sh); TEST_ASAN="unit kvm-test ..."
#                   runs those suites again from build-asan/, in the same nested host boot
#   make asan       build with ASan+UBSan into build-asan/ and run the tests with it
#                   (ASAN_TESTS="unit kvm-test" to run some suites only)
#   make deps       install build and test dependencies (Debian 12, apt-get)
#   make hello      boot examples/hello.yaml (Debian kernel + busybox shell;
#                   EXAMPLE=disk-net: with one disk and one NIC)
#   make fuzz       build the libFuzzer targets (tests/fuzz) and run each for
#                   FUZZ_SECONDS (30), FUZZ_JOBS (one per CPU) at a time
#   make bench      benchmarks against QEMU, crun, runc (ONLY=boot,footprint,blk,net,container,snapshot,oci,backup)
#   make install    PREFIX=/usr/local DESTDIR=

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
CFLAGS  ?= -O2 -g
# Always on, whatever CFLAGS the command line gives (make asan sets CFLAGS).
WFLAGS  := -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -MMD -MP
LDLIBS  += -lyaml -lz -laio -lfdt -lseccomp -ljson-c -lpthread -llzma -lzstd -llz4
# The vessel binary is linked static-pie: no dynamic loader and no shared
# library, whose loading and symbol binding (Debian builds them with -z
# now) would be most of a short vessel-runc call, which engines make
# several of per container (#15); position-independent, so ASLR stays.
# glibc's getaddrinfo (migration's HOST:PORT) still reads /etc/hosts and
# DNS statically; the linker warns about the other NSS modules it would
# load. Sanitizer builds cannot be static: they link the libraries in and
# libc shared. The unit tests link everything shared.
ifeq ($(findstring -fsanitize,$(CFLAGS)),)
VESSEL_LDLIBS := -static-pie $(filter-out -lpthread,$(LDLIBS)) -lpthread
else
VESSEL_LDLIBS := -Wl,-Bstatic $(filter-out -lpthread,$(LDLIBS)) -Wl,-Bdynamic -lpthread
endif
VESSEL  := $(if $(filter build,$(BUILD)),vessel,$(BUILD)/vessel)

LIB_SRC := $(sort $(wildcard vmm/*.c vmm/*/*.c devices/*.c devices/*/*.c boot/*.c \
                             container/*.c tools/*.c tools/base/*.c tools/backup/*.c \
                             tools/appliance/*.c))
LIB_SRC := $(filter-out tools/main.c,$(LIB_SRC))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
GUEST_SRC := $(sort $(wildcard tests/kvm/guests/*.S))
GUEST_BIN := $(GUEST_SRC:tests/kvm/guests/%.S=$(BUILD)/tests/kvm/guests/%.bin) \
             $(BUILD)/tests/kvm/guests/pvh.elf $(BUILD)/tests/kvm/guests/virtio.bin
MGUEST_SRC := $(sort $(wildcard tests/manage/guests/*.S))
MGUEST_BIN := $(MGUEST_SRC:tests/manage/guests/%.S=$(BUILD)/tests/manage/guests/%.bin)
# The virtio guest is freestanding C: never the host's CFLAGS (make asan).
VGUEST_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -O2 -ffreestanding -fno-pic \
                 -fno-pie -fno-stack-protector -mno-red-zone -mgeneral-regs-only \
                 -nostdlib -static -fno-asynchronous-unwind-tables -fcf-protection=none

.PHONY: appliance-build-test all test unit kvm-test container-test manage-test integration oci-test backup-test appliance-test asan asan-build bench deps hello install clean fuzz

all: $(VESSEL) $(UNIT_BIN) $(GUEST_BIN) $(MGUEST_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libvessel.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Linked from objects, not the archive: device files register themselves in
# a linker section and nothing else references them.
$(VESSEL): $(BUILD)/tools/main.o $(LIB_OBJ)
	$(CC) $(WFLAGS) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(VESSEL_LDLIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libvessel.a
	@mkdir -p $(dir $@)
	$(CC) $(WFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libvessel.a $(LDFLAGS) $(LDLIBS) -lcmocka

# Tiny guests: flat 64-bit code wrapped in a minimal bzImage header, so they
# boot through vessel's own bzImage loader and 64-bit entry.
$(BUILD)/tests/kvm/guests/%.bin: tests/kvm/guests/%.S tests/kvm/guests/guest.ld tests/kvm/guests/bzhdr.inc
	@mkdir -p $(dir $@)
	$(CC) -c -o $@.o -Itests/kvm/guests $<
	ld -T tests/kvm/guests/guest.ld -o $@.elf $@.o
	objcopy -O binary $@.elf $@

# The management tests' tiny guests (tests/manage/guests), same wrapping.
$(BUILD)/tests/manage/guests/%.bin: tests/manage/guests/%.S tests/manage/guests/util.inc tests/kvm/guests/guest.ld tests/kvm/guests/bzhdr.inc
	@mkdir -p $(dir $@)
	$(CC) -c -o $@.o -Itests/kvm/guests -Itests/manage/guests $<
	ld -T tests/kvm/guests/guest.ld -o $@.elf $@.o
	objcopy -O binary $@.elf $@

# An ELF guest with a PVH entry note, for the PVH loader.
$(BUILD)/tests/kvm/guests/pvh.elf: tests/kvm/pvh/pvh.S tests/kvm/pvh/pvh.ld
	@mkdir -p $(dir $@)
	$(CC) -c -o $@.o $<
	ld -T tests/kvm/pvh/pvh.ld -o $@ $@.o

# A freestanding C guest driving the virtio-pci transport, in the same
# bzImage wrapping, linked at its run address.
$(BUILD)/tests/kvm/guests/virtio.bin: tests/kvm/virtio/entry.S tests/kvm/virtio/guest.c tests/kvm/virtio/guest.ld
	@mkdir -p $(dir $@)
	$(CC) $(VGUEST_CFLAGS) -c -o $@.entry.o tests/kvm/virtio/entry.S
	$(CC) $(VGUEST_CFLAGS) -c -o $@.guest.o tests/kvm/virtio/guest.c
	ld -T tests/kvm/virtio/guest.ld -o $@.elf $@.entry.o $@.guest.o
	objcopy -O binary $@.elf $@

# Every suite goes through tests/run-all.sh: without hardware KVM what needs
# KVM runs in one boot of the nested KVM host (tests/harness); one table at
# the end, closing with "N passed, N failed, N skipped".
RUN_TESTS = BUILD=$(BUILD) VESSEL=$(abspath $(VESSEL)) tests/run-all.sh

test: all $(if $(TEST_ASAN),asan-build)
	TEST_ASAN="$(TEST_ASAN)" $(RUN_TESTS) unit kvm-test container-test manage-test integration oci-test backup-test appliance-test

unit: $(UNIT_BIN)
	$(RUN_TESTS) unit

kvm-test: $(VESSEL) $(GUEST_BIN)
	$(RUN_TESTS) kvm-test

container-test: $(VESSEL)
	$(RUN_TESTS) container-test

manage-test: $(VESSEL) $(MGUEST_BIN)
	$(RUN_TESTS) manage-test

integration: $(VESSEL)
	$(RUN_TESTS) integration

oci-test: $(VESSEL)
	$(RUN_TESTS) oci-test

# The appliance (tests/appliance/run.sh): the image builder, vessel as PID 1
# and the example booted under OVMF, all three in QEMU here (TCG).
appliance-test: $(VESSEL)
	$(RUN_TESTS) appliance-test

# Backups (tests/backup/run.sh): host only, no KVM.
backup-test: $(VESSEL)
	$(RUN_TESTS) backup-test

# The appliance end to end (issue #14): examples/appliance built by `vessel
# image build`, booted in QEMU under OVMF (TCG), driven from its console.
.PHONY: appliance-boot-test
appliance-boot-test: $(VESSEL)
	VESSEL=$(abspath $(VESSEL)) tests/appliance/boot.sh
# vessel as PID 1 (tests/appliance/init.sh): a hand-made initramfs booted
# four times in QEMU (TCG), one QEMU at a time on the machine.
.PHONY: appliance-init-test
appliance-init-test: $(VESSEL)
	flock /tmp/vessel-appliance-qemu.lock env VESSEL=$(abspath $(VESSEL)) tests/appliance/init.sh

# ASAN_TESTS picks the suites (default: all of `make test`), run by one
# tests/run-all.sh (one nested host boot for them all).
ASAN_TESTS ?= test
ASAN_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan: asan-build
	BUILD=build-asan VESSEL=$(abspath build-asan/vessel) tests/run-all.sh $(filter-out test,$(ASAN_TESTS))

# build-asan/ built, not tested (make test TEST_ASAN=... tests it).
asan-build:
	$(MAKE) BUILD=build-asan CFLAGS="$(ASAN_CFLAGS)" all

.SECONDEXPANSION:
# libFuzzer targets (clang, ASan+UBSan): each links only the parser it
# fuzzes, built from source with the fuzzer's instrumentation.
FUZZ_DIR     := build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_CFLAGS  := -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_tar     := container/tar.c tools/base/error.c
FUZZ_config  := tools/config.c tools/schema.c tools/base/error.c
FUZZ_vcpu_state  := vmm/state_blob.c vmm/vmstate.c vmm/cpuid.c tools/base/error.c
FUZZ_LIBS_tar    := -lz
FUZZ_LIBS_config := -lyaml -lm
FUZZ_vmstate := vmm/vmstate.c tools/base/error.c
FUZZ_memz    := vmm/memory.c tools/base/error.c tools/base/fdio.c
FUZZ_LIBS_vmstate := -lz
FUZZ_LIBS_memz    := -lz -lzstd
FUZZ_LIBS_vcpu_state := -lz
FUZZ_device_restore := devices/pci.c devices/virtio/queue.c vmm/bus.c vmm/msi.c \
                       vmm/loop.c vmm/memory.c vmm/vmstate.c tools/base/error.c tools/base/fdio.c
FUZZ_LIBS_device_restore := -lz -lzstd -lpthread
FUZZ_kernel_payload      := boot/payload.c tools/base/error.c
FUZZ_LIBS_kernel_payload := -lz -llzma -lzstd -llz4
FUZZ_oci_spec := container/oci_spec.c container/oci_json.c container/oci_seccomp.c \
                 container/oci_mounts.c container/oci_hooks.c container/sysctl.c container/spec.c container/caps.c \
                 container/devfs.c container/mounts.c container/pathres.c tools/base/error.c \
                 tools/base/fdio.c tools/base/sha256.c tools/base/sha256_x86.c
FUZZ_LIBS_oci_spec := -ljson-c -lseccomp
FUZZ_backup_chunk    := tools/backup/chunk.c tools/base/sha256.c tools/base/sha256_x86.c tools/base/error.c
FUZZ_LIBS_backup_chunk := -lz
FUZZ_backup_index    := tools/backup/index.c tools/base/sha256.c tools/base/sha256_x86.c tools/base/error.c
FUZZ_backup_manifest := tools/backup/manifest.c tools/backup/store.c tools/backup/chunk.c tools/backup/repo.c \
                        tools/base/fdio.c tools/base/sha256.c tools/base/sha256_x86.c tools/base/error.c
FUZZ_LIBS_backup_manifest := -ljson-c -lz
FUZZ_backup_tree     := tools/backup/tree_format.c tools/backup/stream.c tools/backup/store.c tools/backup/cdc.c \
                        tools/backup/chunk.c tools/backup/index.c tools/backup/repo.c tools/base/fdio.c \
                        tools/base/sha256.c tools/base/sha256_x86.c tools/base/error.c
FUZZ_LIBS_backup_tree := -lz -lpthread
FUZZ_TARGETS := tar config vmstate memz vcpu_state device_restore kernel_payload oci_spec \
                backup_chunk backup_index backup_manifest backup_tree
FUZZ_host_config      := tools/appliance/host_config.c tools/config.c tools/schema.c tools/base/error.c
FUZZ_LIBS_host_config := -lyaml -lm
FUZZ_TARGETS += host_config
FUZZ_modules_dep := tools/appliance/modules.c tools/base/error.c
FUZZ_TARGETS += modules_dep
FUZZ_appliance_boot := tools/appliance/init_modules.c tools/appliance/init_data.c tools/base/error.c
FUZZ_TARGETS += appliance_boot
FUZZ_blk_bitmap := devices/block/bitmap_file.c tools/base/fdio.c tools/base/error.c
FUZZ_LIBS_blk_bitmap := -lz
FUZZ_TARGETS += blk_bitmap
FUZZ_migration_stream := vmm/machine/migration_stream.c tools/base/fdio.c tools/base/error.c
FUZZ_TARGETS += migration_stream
FUZZ_kernel_image := boot/bzimage.c boot/pvh.c boot/elf.c boot/initrd.c boot/cmdline.c \
                     boot/cpu_tables.c boot/e820.c vmm/memory.c vmm/timeline.c tools/base/fdio.c \
                     tools/base/error.c
FUZZ_LIBS_kernel_image := -lz -lzstd
FUZZ_TARGETS += kernel_image
FUZZ_kernel_cache := boot/kcache.c boot/kcache_key.c tools/base/sha256.c tools/base/sha256_x86.c \
                     tools/base/fdio.c tools/base/error.c
FUZZ_LIBS_kernel_cache := -lz
FUZZ_TARGETS += kernel_cache
FUZZ_elf_compact := boot/elf_compact.c boot/elf.c vmm/memory.c tools/base/fdio.c tools/base/error.c
FUZZ_LIBS_elf_compact := -lz -lzstd
FUZZ_TARGETS += elf_compact
FUZZ_virtq := devices/virtio/queue.c devices/virtio/iov.c vmm/memory.c tools/base/error.c \
              tools/base/fdio.c
FUZZ_LIBS_virtq := -lz -lzstd
FUZZ_TARGETS += virtq
FUZZ_pci_regs := $(FUZZ_device_restore) devices/virtio/pci.c devices/virtio/iov.c
FUZZ_LIBS_pci_regs := $(FUZZ_LIBS_device_restore)
FUZZ_TARGETS += pci_regs
FUZZ_blk_request := devices/block/request.c devices/virtio/iov.c
FUZZ_TARGETS += blk_request
FUZZ_legacy_io := devices/pci.c vmm/bus.c vmm/msi.c vmm/loop.c vmm/memory.c vmm/vmstate.c vmm/console.c vmm/timeline.c \
                  tools/base/error.c tools/base/fdio.c
FUZZ_LIBS_legacy_io := -lz -lzstd -lpthread
FUZZ_TARGETS += legacy_io
FUZZ_cmdline := boot/cmdline.c vmm/memory.c tools/base/fdio.c tools/base/error.c
FUZZ_LIBS_cmdline := -lz -lzstd
FUZZ_TARGETS += cmdline
FUZZ_seccomp_prog := container/seccomp_prog.c tools/base/error.c
FUZZ_TARGETS += seccomp_prog
$(FUZZ_DIR)/fuzz_migration_stream: vmm/machine/migration.h vmm/machine/snapshot.h

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/input.h tests/lib/board.h $$(FUZZ_$$*) $$(wildcard container/*.h tools/*.h tools/backup/*.h devices/*.h devices/*/*.h devices/*.c devices/virtio/*.c vmm/*.h boot/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_$*) $(FUZZ_LIBS_$*)

fuzz: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_TARGETS)

# Side-by-side benchmarks against QEMU, crun and runc (bench/README.md);
# ONLY=boot,footprint,blk,net,container,snapshot,oci.
bench: $(VESSEL)
	VESSEL=$(abspath $(VESSEL)) ONLY="$(ONLY)" bench/run.sh

# `vessel image build` (tests/appliance/build.sh): host only, no QEMU.
appliance-build-test: $(VESSEL)
	VESSEL=$(abspath $(VESSEL)) tests/appliance/build.sh

deps:
	bash .ci/install-deps.sh

# Fetch Debian's kernel, build a busybox initramfs, boot examples/hello.yaml
# (EXAMPLE=disk-net: examples/disk-net.yaml, one disk and one NIC; as root).
hello: $(VESSEL)
	examples/hello.sh $(EXAMPLE)

install: vessel
	install -D -m 0755 vessel $(DESTDIR)$(PREFIX)/bin/vessel
	ln -sf vessel $(DESTDIR)$(PREFIX)/bin/vessel-runc

clean:
	rm -rf build build-asan build-fuzz vessel

-include $(LIB_OBJ:.o=.d) $(BUILD)/tools/main.d $(UNIT_BIN:=.d)

# test_vcpu_state runs this guest (found next to its own binary's directory).
$(BUILD)/tests/unit/test_vcpu_state: $(BUILD)/tests/kvm/guests/snapcount.bin
