#!/usr/bin/env bash
# `npm run image`: dist/printbox-arm64.img.xz + .sha256 + a Raspberry Pi Imager os_list entry, and the
# update bundle dist/printbox-<version>-arm64.raucb.
# Stages (image/): base.sh (mmdebstrap, cached by package list) → modules.sh (arm64 node_modules,
# cached by package-lock) → assemble.sh (PrintBox + units + overlay, partitioned image).
# Env: PRINTBOX_IMAGE_CACHE (default /var/cache/printbox-image), PRINTBOX_IMAGE_XZ=0 to skip compression,
# PRINTBOX_IMAGE_BUNDLE=0 to skip the update bundle, PRINTBOX_UPDATE_KEYS the release's signing keys.
source "$(dirname "$0")/lib.sh"
source "$ROOT/image/host-tools.sh"
cd "$ROOT"
start=$SECONDS
ensure_apt "${BASE_APT[@]}"   # a fresh machine running `npm run image` first: the host build of the native modules needs them
ensure_npm           # host tsc/vite for compiling; the image gets its own arm64 node_modules
ensure_image_host
# One build at a time per cache: two checkouts building at once would race on the cached stages.
mkdir -p "${PRINTBOX_IMAGE_CACHE:-/var/cache/printbox-image}"
exec 9>"${PRINTBOX_IMAGE_CACHE:-/var/cache/printbox-image}/.build.lock"
flock 9
out="$ROOT/dist"; mkdir -p "$out"
base=$(bash image/base.sh)
modules=$(bash image/modules.sh "$base")
bash image/assemble.sh "$base" "$modules" "$out"
img="$out/printbox-arm64.img"
version=$(node -p 'require("./package.json").version')
if [ "${PRINTBOX_IMAGE_BUNDLE:-1}" != 0 ]; then
  # the same root file system as a signed update bundle, for devices already in the field (docs/updates.md)
  echo "image: [$((SECONDS - start))s] update bundle…" >&2
  rm -f "$out"/printbox-*-arm64.raucb
  bash image/bundle.sh "$out/printbox-arm64.rootfs.ext4" "$version" "$out/printbox-$version-arm64.raucb"
  echo "image: [$((SECONDS - start))s] bundle $out/printbox-$version-arm64.raucb ($(( $(stat -c %s "$out/printbox-$version-arm64.raucb") / 1000000 )) MB)" >&2
fi
if [ "${PRINTBOX_IMAGE_XZ:-1}" != 0 ]; then
  echo "image: [$((SECONDS - start))s] compressing with xz…" >&2
  xz -T0 -6 -k -f "$img"
  (cd "$out" && sha256sum printbox-arm64.img.xz > printbox-arm64.img.xz.sha256)
  node --input-type=module -e '
    import fs from "node:fs";
    const [img, xz, version] = process.argv.slice(1);
    const hash = async (f) => { const h = (await import("node:crypto")).createHash("sha256");
      for await (const c of fs.createReadStream(f)) h.update(c); return h.digest("hex"); };
    const entry = {
      name: `PrintBox ${version} (64-bit)`,
      description: "Appliance OS for 3D printers: web UI over HTTPS, cloud link, fast G-code streaming. Debian trixie arm64.",
      url: "https://downloads.printbox.invalid/printbox-arm64.img.xz",
      icon: "",
      website: "https://printbox.invalid/",
      release_date: new Date().toISOString().slice(0, 10),
      extract_size: fs.statSync(img).size,
      extract_sha256: await hash(img),
      image_download_size: fs.statSync(xz).size,
      image_download_sha256: await hash(xz),
      devices: ["pi4-64bit", "pi3-64bit"],
      // Imager 1.9 and 2.x write firstrun.sh + a systemd.run= cmdline for this format; PrintBox applies
      // it with its own imager_custom/userconf (docs/image.md, the section on the OS customisation).
      init_format: "systemd",
    };
    fs.writeFileSync(xz.replace(/\.img\.xz$/, ".os_list.json"), JSON.stringify({ os_list: [entry] }, null, 2) + "\n");
  ' "$img" "$img.xz" "$(node -p 'require("./package.json").version')"
  echo "image: compressed size $(( $(stat -c %s "$img.xz") / 1000000 )) MB (target ≤ 400 MB): $img.xz" >&2
fi
echo "image: done in $((SECONDS - start)) s" >&2
