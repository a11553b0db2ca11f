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
setenv bootargs "console=tty0 ${pb_console} root=PARTUUID=${pb_partuuid} rootfstype=ext4 rootwait fsck.repair=yes net.ifnames=0 cma=64M panic=10 rauc.slot=${pb_slot}"
echo "PrintBox: kernel line ${bootargs}"
load ${devtype} ${devnum}:${pb_part} ${kernel_addr_r} /boot/Image
load ${devtype} ${devnum}:${pb_part} ${ramdisk_addr_r} /boot/initrd.img
booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdt_addr}
echo "PrintBox: slot ${pb_slot} did not boot; restarting to try the next one"
reset
