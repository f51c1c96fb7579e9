#!/usr/bin/env bash
# install_consumer: prove that an installed warmstart works for an outside project.
#
#   1. cmake --install the given (already built) build tree into a fresh temporary prefix;
#   2. configure tests/install/consumer with -DCMAKE_PREFIX_PATH=<prefix>, using the same
#      generator, compiler and flags as the build tree;
#   3. check that find_package(warmstart) resolved to <prefix>, build, and run the program.
# The temporary directory is removed on exit, pass or fail (set WARMSTART_KEEP_INSTALL_TEST=1
# to keep it for a post-mortem).
#
# Usage (CTest passes all of these; see tests/CMakeLists.txt):
#   run.sh --build-dir DIR --consumer DIR [--cmake PATH] [--config CFG] [--generator NAME]
#          [--cxx PATH] [--cxx-flags FLAGS] [--version X.Y.Z]
set -euo pipefail

cmake_bin=cmake
build_dir=
consumer=
config=
generator=
cxx=
cxx_flags=
version=

die() { echo "install_consumer: $*" >&2; exit 1; }

while (($#)); do
  (($# >= 2)) || die "missing value for $1"
  case "$1" in
    --cmake) cmake_bin=$2 ;;
    --build-dir) build_dir=$2 ;;
    --consumer) consumer=$2 ;;
    --config) config=$2 ;;
    --generator) generator=$2 ;;
    --cxx) cxx=$2 ;;
    --cxx-flags) cxx_flags=$2 ;;
    --version) version=$2 ;;
    *) die "unknown argument $1" ;;
  esac
  shift 2
done
[[ -d $build_dir ]] || die "--build-dir '$build_dir' is not a directory"
[[ -f $consumer/CMakeLists.txt ]] || die "--consumer '$consumer' has no CMakeLists.txt"

work=$(mktemp -d "${TMPDIR:-/tmp}/warmstart-install-test.XXXXXX")
cleanup() {
  if [[ ${WARMSTART_KEEP_INSTALL_TEST:-} == 1 ]]; then
    echo "install_consumer: kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
prefix=$work/prefix
consumer_build=$work/consumer-build

run() { echo "+ $*"; "$@"; }

# 1. install
install_args=(--install "$build_dir" --prefix "$prefix")
[[ -n $config ]] && install_args+=(--config "$config")
run "$cmake_bin" "${install_args[@]}"
[[ -f $prefix/include/warmstart/error.hpp ]] || die "headers were not installed under $prefix/include"
config_file=$(find "$prefix" -name warmstartConfig.cmake -print -quit)
[[ -n $config_file ]] || die "warmstartConfig.cmake was not installed under $prefix"

# 2. configure the consumer against the prefix only (no package registries, no build tree)
configure_args=(-S "$consumer" -B "$consumer_build"
  "-DCMAKE_PREFIX_PATH=$prefix"
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
[[ -n $generator ]] && configure_args+=(-G "$generator")
[[ -n $cxx ]] && configure_args+=("-DCMAKE_CXX_COMPILER=$cxx")
[[ -n $cxx_flags ]] && configure_args+=("-DCMAKE_CXX_FLAGS=$cxx_flags")
[[ -n $config ]] && configure_args+=("-DCMAKE_BUILD_TYPE=$config")
[[ -n $version ]] && configure_args+=("-DWARMSTART_EXPECTED_VERSION=$version")
run "$cmake_bin" "${configure_args[@]}"

# 3. it must have used the installed package, then build and run
found_dir=$(sed -n 's/^warmstart_DIR:PATH=//p' "$consumer_build/CMakeCache.txt")
[[ $found_dir == "$prefix"/* ]] || die "find_package(warmstart) used '$found_dir', not the prefix $prefix"
build_args=(--build "$consumer_build")
[[ -n $config ]] && build_args+=(--config "$config")
run "$cmake_bin" "${build_args[@]}"

exe=$(find "$consumer_build" -type f -name 'warmstart_consumer' -perm -u+x -print -quit)
[[ -n $exe ]] || die "the consumer executable was not built"
run "$exe"
echo "install_consumer: OK (prefix $prefix)"
