# Code generation, included from the root CMakeLists.txt.
# The gRPC API (src/grpc): go-katsubushi's services from src/grpc/katsubushi.proto,
# compiled here at build time, on a grpc::Server the daemon hands connections to.
# The generated code is a library of its own, built without our warnings.
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
set(KATSUBUSHI_PROTO_OUT ${CMAKE_CURRENT_BINARY_DIR}/generated/grpc)
# katsubushi_cxx_stubs(<target> <folder> <name>): src/<folder>/<name>.proto's
# C++ message and gRPC stubs, generated into KATSUBUSHI_PROTO_OUT at build
# time, as a static library <target> built without our warnings.
function(katsubushi_cxx_stubs target folder name)
  set(out ${KATSUBUSHI_PROTO_OUT})
  set(cxx ${out}/${name}.pb.cc ${out}/${name}.pb.h ${out}/${name}.grpc.pb.cc
    ${out}/${name}.grpc.pb.h)
  add_custom_command(OUTPUT ${cxx}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
    COMMAND ${Protobuf_PROTOC_EXECUTABLE} --proto_path=${PROJECT_SOURCE_DIR}/src/${folder}
      --cpp_out=${out} --grpc_out=${out}
      --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin> ${name}.proto
    DEPENDS ${PROJECT_SOURCE_DIR}/src/${folder}/${name}.proto
    COMMENT "Generating the gRPC stubs of ${name}.proto")
  # The objects on their own too (<target>_objects): the gRPC client library
  # (cmake/client_grpc.cmake) holds those of katsubushi.proto.
  add_library(${target}_objects OBJECT ${cxx})
  target_include_directories(${target}_objects SYSTEM PUBLIC ${out})
  target_link_libraries(${target}_objects PUBLIC gRPC::grpc++ protobuf::libprotobuf)
  add_library(${target} STATIC $<TARGET_OBJECTS:${target}_objects>)
  target_include_directories(${target} SYSTEM PUBLIC ${out})
  target_link_libraries(${target} PUBLIC gRPC::grpc++ protobuf::libprotobuf)
endfunction()

katsubushi_cxx_stubs(katsubushi_grpc_proto grpc katsubushi)
# Built to go into a shared library too (libkatsubushi-client-grpc.so),
# exporting nothing of its own.
set_target_properties(katsubushi_grpc_proto_objects PROPERTIES
  POSITION_INDEPENDENT_CODE ON CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
# The etcd lease store's client (src/etcd/etcd_client.cpp): the part of
# etcd's v3 API it calls (src/etcd/etcd_rpc.proto, package etcdserverpb), as
# a library of its own.
katsubushi_cxx_stubs(katsubushi_etcd_proto etcd etcd_rpc)
# The same stubs for Python (python3-grpcio), and the part of gRPC's
# reflection protocol the tests ask with (src/testing/grpc_reflection.proto),
# for the C++ and Python tests and the chaos scenarios: generated/python.
set(KATSUBUSHI_PROTO_PY_OUT ${CMAKE_CURRENT_BINARY_DIR}/generated/python)
set(KATSUBUSHI_PROTO_TEST_CXX
  ${KATSUBUSHI_PROTO_OUT}/grpc_reflection.pb.cc ${KATSUBUSHI_PROTO_OUT}/grpc_reflection.pb.h
  ${KATSUBUSHI_PROTO_OUT}/grpc_reflection.grpc.pb.cc
  ${KATSUBUSHI_PROTO_OUT}/grpc_reflection.grpc.pb.h)
set(KATSUBUSHI_PROTO_PY
  ${KATSUBUSHI_PROTO_PY_OUT}/katsubushi_pb2.py ${KATSUBUSHI_PROTO_PY_OUT}/katsubushi_pb2_grpc.py
  ${KATSUBUSHI_PROTO_PY_OUT}/grpc_reflection_pb2.py
  ${KATSUBUSHI_PROTO_PY_OUT}/grpc_reflection_pb2_grpc.py)
add_custom_command(OUTPUT ${KATSUBUSHI_PROTO_TEST_CXX} ${KATSUBUSHI_PROTO_PY}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${KATSUBUSHI_PROTO_OUT} ${KATSUBUSHI_PROTO_PY_OUT}
  COMMAND ${Protobuf_PROTOC_EXECUTABLE} --proto_path=${CMAKE_CURRENT_SOURCE_DIR}/src/testing
    --cpp_out=${KATSUBUSHI_PROTO_OUT} --grpc_out=${KATSUBUSHI_PROTO_OUT}
    --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin> grpc_reflection.proto
  COMMAND ${Protobuf_PROTOC_EXECUTABLE} --proto_path=${CMAKE_CURRENT_SOURCE_DIR}/src/grpc
    --python_out=${KATSUBUSHI_PROTO_PY_OUT} --grpc_out=${KATSUBUSHI_PROTO_PY_OUT}
    --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_python_plugin> katsubushi.proto
  COMMAND ${Protobuf_PROTOC_EXECUTABLE} --proto_path=${CMAKE_CURRENT_SOURCE_DIR}/src/testing
    --python_out=${KATSUBUSHI_PROTO_PY_OUT} --grpc_out=${KATSUBUSHI_PROTO_PY_OUT}
    --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_python_plugin> grpc_reflection.proto
  DEPENDS src/grpc/katsubushi.proto src/testing/grpc_reflection.proto
  COMMENT "Generating the gRPC test and Python stubs")
add_custom_target(katsubushi_grpc_python ALL DEPENDS ${KATSUBUSHI_PROTO_PY})
add_library(katsubushi_grpc_test_proto STATIC EXCLUDE_FROM_ALL ${KATSUBUSHI_PROTO_TEST_CXX})
target_link_libraries(katsubushi_grpc_test_proto PUBLIC katsubushi_grpc_proto)
