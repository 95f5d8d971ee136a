# One static library per layer of src/, each linking only the layers below it.
#
# The layers, top to bottom (README, "Layout of the source"):
#   server                    listeners, event loops, connections, shutdown
#   session                   the protocol sniff and the session core
#   proto  http  grpc         the front ends: memcached, HTTP, gRPC
#   service                   what every front end is handed
#   etcd                      the etcd lease store (only the daemon's main links it)
#   state  lease  config      id safety, and flags
#   id                        layout, clock, generator
#
# A layer's sources see only its own folder and the folders of the layers it
# uses: its include path is a directory of links made here (one per folder)
# instead of src/ itself, so `#include "server/..."` in src/proto fails to
# build ("No such file or directory") rather than quietly running upward.
# Tests, benchmarks and fuzz targets sit outside the layers and see all of src/.

# katsubushi_layer(<target> FOLDERS <folder>... [USES <layer target>...])
#   A static library of src/<folder>/*.cpp, tests (*_test.cpp, test_*.cpp) and
#   benchmarks (*_bench.cpp) aside.
function(katsubushi_layer target)
  cmake_parse_arguments(LAYER "" "" "FOLDERS;USES" ${ARGN})
  set(sources "")
  set(view ${PROJECT_BINARY_DIR}/layers/${target})
  file(MAKE_DIRECTORY ${view})
  foreach(folder IN LISTS LAYER_FOLDERS)
    file(GLOB found CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${folder}/*.cpp)
    list(FILTER found EXCLUDE REGEX "(_test|_bench)\\.cpp$|/test_[^/]*\\.cpp$")
    list(APPEND sources ${found})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${folder} ${view}/${folder} SYMBOLIC)
  endforeach()
  add_library(${target} STATIC ${sources})
  # BUILD_INTERFACE: an installed layer (katsubushi::id) carries neither the
  # view nor our warning and sanitizer options.
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${view}>)
  target_link_libraries(${target} PUBLIC ${LAYER_USES}
    PRIVATE $<BUILD_INTERFACE:katsubushi_build_options>)
  set_property(GLOBAL APPEND PROPERTY KATSUBUSHI_LAYERS ${target})
endfunction()

# Every layer target defined so far, lowest first (the fuzz build instruments them all).
function(katsubushi_layer_targets out)
  get_property(layers GLOBAL PROPERTY KATSUBUSHI_LAYERS)
  set(${out} ${layers} PARENT_SCOPE)
endfunction()
