# Included from the root CMakeLists.txt, after the id layer.
# The client library (src/client/, its public headers in src/client/include):
# one set of objects, built position-independent with hidden symbols, and
# from them the static library katsubushi_client (what this build's tools
# and tests link, and katsubushi::client when installed) and the shared one
# katsubushi_client_shared (libkatsubushi-client.so, for the C ABI's
# bindings). It uses the id layer's header-only layout (id/layout.hpp), and
# nothing above it: its include path is a view holding only client/ and id/,
# as the layers' views are (cmake/layers.cmake).
file(GLOB KATSUBUSHI_CLIENT_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/client/*.cpp)
list(FILTER KATSUBUSHI_CLIENT_SOURCES EXCLUDE REGEX "(_test|_bench)\\.cpp$")
set(KATSUBUSHI_CLIENT_VIEW ${PROJECT_BINARY_DIR}/layers/katsubushi_client)
file(MAKE_DIRECTORY ${KATSUBUSHI_CLIENT_VIEW})
foreach(folder client id)
  file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${folder} ${KATSUBUSHI_CLIENT_VIEW}/${folder} SYMBOLIC)
endforeach()
set(KATSUBUSHI_CLIENT_INCLUDE ${PROJECT_SOURCE_DIR}/src/client/include)

add_library(katsubushi_client_objects OBJECT ${KATSUBUSHI_CLIENT_SOURCES})
set_target_properties(katsubushi_client_objects PROPERTIES
  POSITION_INDEPENDENT_CODE ON CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
target_include_directories(katsubushi_client_objects
  PRIVATE ${KATSUBUSHI_CLIENT_VIEW} ${KATSUBUSHI_CLIENT_INCLUDE})
target_link_libraries(katsubushi_client_objects PRIVATE katsubushi_build_options)

add_library(katsubushi_client STATIC $<TARGET_OBJECTS:katsubushi_client_objects>)
add_library(katsubushi_client_shared SHARED $<TARGET_OBJECTS:katsubushi_client_objects>)
foreach(lib katsubushi_client katsubushi_client_shared)
  target_include_directories(${lib} PUBLIC
    $<BUILD_INTERFACE:${KATSUBUSHI_CLIENT_INCLUDE}> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${lib} PUBLIC Threads::Threads
    PRIVATE $<BUILD_INTERFACE:katsubushi_build_options>)
  target_compile_features(${lib} PUBLIC cxx_std_20)
endforeach()
set_target_properties(katsubushi_client PROPERTIES OUTPUT_NAME katsubushi-client EXPORT_NAME client)
set_target_properties(katsubushi_client_shared PROPERTIES OUTPUT_NAME katsubushi-client
  EXPORT_NAME client_shared VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})

# katsubushi-client: the command line (src/cmd/client_main.cpp).
add_executable(katsubushi-client src/cmd/client_main.cpp)
target_link_libraries(katsubushi-client PRIVATE katsubushi_client katsubushi_config
  katsubushi_build_options)
