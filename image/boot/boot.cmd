# PrintBox A/B boot, run by U-Boot's standard boot from the FAT partition (compiled to boot.scr with
# mkimage -T script). The slot state follows RAUC's U-Boot convention: BOOT_ORDER (bootnames in order of
# preference) and BOOT_<name>_LEFT (tries left), as text in pbslot.txt on the FAT, which RAUC edits on the
# device through /usr/lib/printbox/rauc-backend. Each boot takes one try from the first slot that has any;
# a slot whose system never marks itself good runs out of tries and the next one boots.
# The file is read and written here, not through U-Boot's own environment: the Pi's U-Boot keeps that in
# uboot.env on the FAT, QEMU's in flash, each with its own size, and this script must behave the same on both.

setenv pb_env ${pxefile_addr_r}
setenv BOOT_ORDER "A B"
setenv BOOT_A_LEFT 3
setenv BOOT_B_LEFT 3
if load ${devtype} ${devnum}:1 ${pb_env} pbslot.txt; then
  env import -t ${pb_env} ${filesize} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
else
  echo "PrintBox: no pbslot.txt, first boot: ${BOOT_ORDER}"
fi

setenv pb_slot
for s in ${BOOT_ORDER}; do
  if test -z "${pb_slot}"; then
    if test "${s}" = "A" && test ${BOOT_A_LEFT} -gt 0; then
      setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
      setenv pb_slot A
      setenv pb_part 2
    elif test "${s}" = "B" && test ${BOOT_B_LEFT} -gt 0; then
      setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
      setenv pb_slot B
      setenv pb_part 3
    fi
  fi
done

if test -z "${pb_slot}"; then
  # Both slots used up their tries: never leave the device unbootable; start over with the first one.
  echo "PrintBox: no slot has tries left (${BOOT_ORDER}); giving each three again"
  setenv BOOT_ORDER "A B"
  setenv BOOT_A_LEFT 3
  setenv BOOT_B_LEFT 3
  env export -t ${pb_env} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
  fatwrite ${devtype} ${devnum}:1 ${pb_env} pbslot.txt ${filesize}
  reset
fi

env export -t ${pb_env} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
fatwrite ${devtype} ${devnum}:1 ${pb_env} pbslot.txt ${filesize}
echo "PrintBox: booting slot ${pb_slot} (partition ${pb_part}; tries left A=${BOOT_A_LEFT} B=${BOOT_B_LEFT})"

part uuid ${devtype} ${devnum}:${pb_part} pb_partuuid

# The kernel line is cmdline.txt's, as the firmware would pass it (Raspberry Pi Imager adds its firstrun.sh
# there), plus the slot's root: the kernel takes the last root=. The file may end in LF or CR LF: those are
# cut, the rest is one line.
setexpr pb_cmd ${pxefile_addr_r} + 0x10000
setenv pb_cmdline
if load ${devtype} ${devnum}:1 ${pb_cmd} cmdline.txt; then
  setexpr pb_end ${pb_cmd} + ${filesize}
  mw.b ${pb_end} 0 1
  setenv pb_trim 1
  for i in 1 2 3 4; do
    if test "${pb_trim}" = 1 && test ${filesize} != 0; then
      setexpr pb_end ${pb_end} - 1
      setexpr.b pb_c *${pb_end}
      if test "${pb_c}" = a || test "${pb_c}" = d; then mw.b ${pb_end} 0 1; else setenv pb_trim 0; fi
    fi
  done
  setexpr.s pb_cmdline *${pb_cmd}
fi
if test -z "${pb_cmdline}"; then
  setenv pb_cmdline "console=tty0 rootfstype=ext4 rootwait fsck.repair=yes net.ifnames=0 cma=64M"
fi
# The serial console last, so it is /dev/console: the Pi's header UART (Debian's choice for arm64 Pis),
# QEMU's PL011 elsewhere.
if test "${board}" = rpi; then setenv pb_console console=ttyS1,115200; else setenv pb_console console=ttyAMA0; fi
setenv bootargs "${pb_cmdline} ${pb_console} root=PARTUUID=${pb_partuuid} rauc.slot=${pb_slot} panic=10"
echo "PrintBox: kernel line ${bootargs}"

# Debian's arm64 kernel is about 40 MiB uncompressed: loaded at U-Boot's kernel_addr_r it would run over the
# device tree the firmware handed over and the default ramdisk address (both within 40 MiB of it on the Pi).
# So the device tree is moved first and everything is placed well above.
if test -n "${fdt_addr}"; then fdt addr ${fdt_addr}; else fdt addr ${fdtcontroladdr}; fi
setexpr pb_fdt ${kernel_addr_r} + 0x3e00000
setexpr pb_kernel ${kernel_addr_r} + 0x4000000
setexpr pb_initrd ${kernel_addr_r} + 0x8000000
fdt move ${fdtaddr} ${pb_fdt} 0x100000
# /boot/vmlinuz and /boot/initrd.img are the slot's links to its newest kernel (link_in_boot in /etc/kernel-img.conf)
load ${devtype} ${devnum}:${pb_part} ${pb_kernel} /boot/vmlinuz
load ${devtype} ${devnum}:${pb_part} ${pb_initrd} /boot/initrd.img
booti ${pb_kernel} ${pb_initrd}:${filesize} ${pb_fdt}
echo "PrintBox: slot ${pb_slot} did not boot; restarting to try the next one"
reset
