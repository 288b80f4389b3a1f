#!/usr/bin/env bash
# Runs 99-otpd-modems.rules on simulated USB modems: umockdev fakes the sysfs of each
# device, `udevadm test` runs every installed rule plus this file on its tty, and the
# script checks the links, the group and mode, and ID_MM_DEVICE_IGNORE.
#
# `udevadm test` really creates links and sets modes in /dev and writes /run/udev, so it
# runs in a private mount namespace with an empty /dev and /run: nothing on the host
# changes. Needs root, unshare(1), udevadm and umockdev (apt-get install umockdev).
#
# The sysfs descriptions are made up for the test from the layouts the rules file cites
# (ModemManager's rules, the option driver); they are not recordings of real devices.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if [ "${1:-}" != "--inside" ]; then
  command -v umockdev-run >/dev/null || { echo "needs umockdev (apt-get install umockdev)" >&2; exit 2; }
  exec unshare --mount --propagation private "$0" --inside
fi

work=$(mktemp -d)
mount -t tmpfs none /run
mkdir -p /run/udev/rules.d
cp "$here/99-otpd-modems.rules" /run/udev/rules.d/
mkdir -p "$work/dev"
for n in null zero random urandom; do
  touch "$work/dev/$n"
  mount --bind "/dev/$n" "$work/dev/$n"
done
# umockdev makes a pseudo-terminal for each tty it fakes.
mkdir "$work/dev/pts"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$work/dev/pts"
ln -s pts/ptmx "$work/dev/ptmx"
mount --rbind "$work/dev" /dev

# device VID PID MANUFACTURER PRODUCT, then port IFNUM CLASS SUBCLASS PROTOCOL TTY ...
device() {
  cat > "$work/dev.umockdev" <<EOF
P: /devices/platform/usb1/1-1
N: bus/usb/001/002
E: SUBSYSTEM=usb
E: DEVTYPE=usb_device
A: idVendor=$1
A: idProduct=$2
A: bcdDevice=0100
A: manufacturer=$3
A: product=$4
A: busnum=1
A: devnum=2

EOF
}
port() {
  cat >> "$work/dev.umockdev" <<EOF
P: /devices/platform/usb1/1-1/1-1:1.$((10#$1))
E: SUBSYSTEM=usb
E: DEVTYPE=usb_interface
A: bInterfaceNumber=$1
A: bInterfaceClass=$2
A: bInterfaceSubClass=$3
A: bInterfaceProtocol=$4

P: /devices/platform/usb1/1-1/1-1:1.$((10#$1))/$5
E: SUBSYSTEM=usb-serial
A: port_number=0

P: /devices/platform/usb1/1-1/1-1:1.$((10#$1))/$5/tty/$5
N: $5
E: SUBSYSTEM=tty
E: DEVNAME=/dev/$5
E: MAJOR=188
E: MINOR=${5#ttyUSB}

EOF
}

failures=0
# expect IFNUM TTY "LINKS..." MM_IGNORE: runs udevadm test on that port of the device.
expect() {
  local ifnum=$1 tty=$2 links=$3 ignore=$4 out got
  out=$(umockdev-run -d "$work/dev.umockdev" -- \
    udevadm test "/sys/devices/platform/usb1/1-1/1-1:1.$((10#$ifnum))/$tty/tty/$tty" 2>&1)
  if grep -E '99-otpd-modems\.rules:[0-9]+ (Invalid|.*ignoring)' <<<"$out"; then
    failures=$((failures + 1))
  fi
  got=$(sed -n 's/^DEVLINKS=//p' <<<"$out" | tr ' ' '\n' | grep '^/dev/otpd-' | sort | xargs || true)
  want=$(tr ' ' '\n' <<<"$links" | grep . | sed 's|^|/dev/|' | sort | xargs || true)
  local mm
  mm=$(sed -n 's/^ID_MM_DEVICE_IGNORE=//p' <<<"$out")
  local perms=no
  grep -q '99-otpd-modems\.rules:[0-9]* MODE 0660' <<<"$out" \
    && grep -q '99-otpd-modems\.rules:[0-9]* GROUP' <<<"$out" && perms=yes
  local want_perms=no
  [ "$ignore" = 1 ] && want_perms=yes
  if [ "$got" = "$want" ] && [ "${mm:-0}" = "$ignore" ] && [ "$perms" = "$want_perms" ]; then
    echo "ok   $case if$ifnum: ${got:-no otpd links}, ID_MM_DEVICE_IGNORE=${mm:-unset}, dialout 0660: $perms"
  else
    echo "FAIL $case if$ifnum: links '$got' (want '$want'), ID_MM_DEVICE_IGNORE=${mm:-unset} (want $ignore), dialout 0660: $perms"
    failures=$((failures + 1))
  fi
}

# expect_device MM_IGNORE: runs udevadm test on the USB device itself.
expect_device() {
  local mm
  mm=$(umockdev-run -d "$work/dev.umockdev" -- udevadm test /sys/devices/platform/usb1/1-1 2>&1 \
    | sed -n 's/^ID_MM_DEVICE_IGNORE=//p')
  if [ "${mm:-0}" = "$1" ]; then
    echo "ok   $case (USB device): ID_MM_DEVICE_IGNORE=${mm:-unset}"
  else
    echo "FAIL $case (USB device): ID_MM_DEVICE_IGNORE=${mm:-unset} (want $1)"
    failures=$((failures + 1))
  fi
}

case="Quectel EG25-G 2c7c:0125"
device 2c7c 0125 Quectel EG25-G
port 00 ff ff ff ttyUSB0; port 01 ff 00 00 ttyUSB1; port 02 ff 00 00 ttyUSB2; port 03 ff 00 00 ttyUSB3
expect 00 ttyUSB0 "otpd-modem-2c7c-0125-if00" 1
expect 01 ttyUSB1 "otpd-modem-2c7c-0125-if01" 1
expect 02 ttyUSB2 "otpd-modem-2c7c-0125-if02 otpd-modem-2c7c-0125-at" 1
expect 03 ttyUSB3 "otpd-modem-2c7c-0125-if03" 1
expect_device 1

case="SIMCom SIM7600 1e0e:9001"
device 1e0e 9001 SimTech SIM7600
port 00 ff ff ff ttyUSB0; port 02 ff ff ff ttyUSB2; port 03 ff ff ff ttyUSB3
expect 02 ttyUSB2 "otpd-modem-1e0e-9001-if02 otpd-modem-1e0e-9001-at" 1
expect 03 ttyUSB3 "otpd-modem-1e0e-9001-if03" 1

case="SIMCom SIM7600 RNDIS 1e0e:9011"
device 1e0e 9011 SimTech SIM7600
port 02 ff ff ff ttyUSB0; port 04 ff ff ff ttyUSB2
expect 02 ttyUSB0 "otpd-modem-1e0e-9011-if02" 1
expect 04 ttyUSB2 "otpd-modem-1e0e-9011-if04 otpd-modem-1e0e-9011-at" 1

case="Huawei stick 12d1:1506, PCUI ff/02/02 and modem ff/02/01"
device 12d1 1506 HUAWEI_MOBILE HUAWEI_MOBILE
port 00 ff 02 02 ttyUSB0; port 01 ff 02 01 ttyUSB1
expect 00 ttyUSB0 "otpd-modem-12d1-1506-if00 otpd-modem-12d1-1506-at" 1
expect 01 ttyUSB1 "otpd-modem-12d1-1506-if01" 1

case="Huawei E169-era 12d1:1001, every port ff/ff/ff"
device 12d1 1001 HUAWEI_Technology HUAWEI_Mobile
port 00 ff ff ff ttyUSB0; port 02 ff ff ff ttyUSB2
expect 00 ttyUSB0 "otpd-modem-12d1-1001-if00" 1
expect 02 ttyUSB2 "otpd-modem-12d1-1001-if02" 1

case="Huawei 12d1:1573 (not listed)"
device 12d1 1573 HUAWEI_Technology HUAWEI_Mobile
port 02 ff 02 02 ttyUSB0
expect 02 ttyUSB0 "" 0

case="CH340 USB-serial adapter 1a86:7523 (SIM800 behind it)"
device 1a86 7523 QinHeng USB_Serial
port 00 ff 01 02 ttyUSB0
expect 00 ttyUSB0 "" 0
expect_device 0

if [ "$failures" -ne 0 ]; then
  echo "$failures failed"
  exit 1
fi
echo "all passed"
