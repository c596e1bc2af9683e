# Cross toolchain for Raspberry Pi class boards (Pi 3/4/5, Zero 2 W): Debian's
# g++-aarch64-linux-gnu plus the :arm64 -dev packages (deploy/install-deps.sh --arch arm64).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# Look for libraries and headers only in the target's multiarch dirs, programs on the host.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /usr)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# Without this, pkg-config hands out the x86_64 libraries and the link fails late and oddly.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")

# gtest discovery and ctest run the test binaries under qemu with the arm64 sysroot at /.
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-aarch64;-L;/")
