# Included from the root CMakeLists.txt, after the gRPC stubs.
# grpc:// for the client library (src/client_grpc/, its public headers in
# src/client_grpc/include): the gRPC transport and the generated code of
# katsubushi.proto, as a library of its own so that katsubushi_client needs
# no gRPC. One set of objects, position-independent with hidden symbols, and
# from them the static katsubushi_client_grpc (katsubushi::client_grpc) and
# the shared katsubushi_client_grpc_shared (libkatsubushi-client-grpc.so,
# over libkatsubushi-client.so). Its include path is a view holding client/,
# id/ and client_grpc/: nothing of the daemon's, its gRPC front end included.
file(GLOB KATSUBUSHI_CLIENT_GRPC_SOURCES CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/src/client_grpc/*.cpp)
list(FILTER KATSUBUSHI_CLIENT_GRPC_SOURCES EXCLUDE REGEX "(_test|_bench)\\.cpp$")
set(KATSUBUSHI_CLIENT_GRPC_VIEW ${PROJECT_BINARY_DIR}/layers/katsubushi_client_grpc)
file(MAKE_DIRECTORY ${KATSUBUSHI_CLIENT_GRPC_VIEW})
foreach(folder client id client_grpc)
  file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${folder} ${KATSUBUSHI_CLIENT_GRPC_VIEW}/${folder}
    SYMBOLIC)
endforeach()
set(KATSUBUSHI_CLIENT_GRPC_INCLUDE ${PROJECT_SOURCE_DIR}/src/client_grpc/include)

add_library(katsubushi_client_grpc_objects OBJECT ${KATSUBUSHI_CLIENT_GRPC_SOURCES})
set_target_properties(katsubushi_client_grpc_objects PROPERTIES
  POSITION_INDEPENDENT_CODE ON CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
target_include_directories(katsubushi_client_grpc_objects PRIVATE ${KATSUBUSHI_CLIENT_GRPC_VIEW}
  ${KATSUBUSHI_CLIENT_INCLUDE} ${KATSUBUSHI_CLIENT_GRPC_INCLUDE})
# The generated headers (katsubushi.grpc.pb.h) and gRPC's, as the stubs' objects have them.
target_link_libraries(katsubushi_client_grpc_objects
  PRIVATE katsubushi_grpc_proto_objects katsubushi_build_options)

set(katsubushi_client_grpc_objects
  $<TARGET_OBJECTS:katsubushi_client_grpc_objects> $<TARGET_OBJECTS:katsubushi_grpc_proto_objects>)
add_library(katsubushi_client_grpc STATIC ${katsubushi_client_grpc_objects})
add_library(katsubushi_client_grpc_shared SHARED ${katsubushi_client_grpc_objects})
target_link_libraries(katsubushi_client_grpc PUBLIC katsubushi_client)
target_link_libraries(katsubushi_client_grpc_shared PUBLIC katsubushi_client_shared)
foreach(lib katsubushi_client_grpc katsubushi_client_grpc_shared)
  target_include_directories(${lib} PUBLIC
    $<BUILD_INTERFACE:${KATSUBUSHI_CLIENT_GRPC_INCLUDE}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${lib} PRIVATE gRPC::grpc++ protobuf::libprotobuf
    $<BUILD_INTERFACE:katsubushi_build_options>)
endforeach()
set_target_properties(katsubushi_client_grpc PROPERTIES
  OUTPUT_NAME katsubushi-client-grpc EXPORT_NAME client_grpc)
set_target_properties(katsubushi_client_grpc_shared PROPERTIES OUTPUT_NAME katsubushi-client-grpc
  EXPORT_NAME client_grpc_shared VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})

# The command line speaks grpc:// too.
target_link_libraries(katsubushi-client PRIVATE katsubushi_client_grpc)
