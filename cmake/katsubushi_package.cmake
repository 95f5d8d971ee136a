# Included from cmake/packaging.cmake. The dev component: what a program
# that fetches ids (or embeds the generator) builds against.
#   find_package(katsubushi CONFIG REQUIRED)
#     katsubushi::client         the client library, static (<katsubushi/client.hpp>, <katsubushi/client.h>)
#     katsubushi::client_shared  the same, shared (libkatsubushi-client.so)
#     katsubushi::id             the id layer: layout, clocks, the generator (<katsubushi/id/generator.hpp>)
#   find_package(katsubushi CONFIG REQUIRED COMPONENTS client_grpc)   (finds gRPC and Protobuf too)
#     katsubushi::client_grpc         grpc:// (<katsubushi/client_grpc.hpp>, <katsubushi/client_grpc.h>), static
#     katsubushi::client_grpc_shared  the same, shared (libkatsubushi-client-grpc.so)
#   pkg-config katsubushi-client (-lkatsubushi-client: the shared library where both are),
#   katsubushi-client-grpc (-lkatsubushi-client-grpc -lkatsubushi-client)
include(CMakePackageConfigHelpers)
set(KATSUBUSHI_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/katsubushi)
set(KATSUBUSHI_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The id layer's headers include each other as "id/...": installed under
# include/katsubushi/id, with include/katsubushi on its include path.
set_target_properties(katsubushi_id PROPERTIES EXPORT_NAME id OUTPUT_NAME katsubushi-id)
target_include_directories(katsubushi_id INTERFACE
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/katsubushi>)
target_compile_features(katsubushi_id INTERFACE cxx_std_20)

install(TARGETS katsubushi_client katsubushi_client_shared katsubushi_id
  EXPORT katsubushiTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev NAMELINK_COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES src/client/include/katsubushi/client.hpp src/client/include/katsubushi/client.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/katsubushi COMPONENT dev)
# The gRPC transport: an export set of its own, loaded only when the
# client_grpc component is asked for, so that a program without it needs no gRPC.
install(TARGETS katsubushi_client_grpc katsubushi_client_grpc_shared
  EXPORT katsubushiGrpcTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev NAMELINK_COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES src/client_grpc/include/katsubushi/client_grpc.hpp
  src/client_grpc/include/katsubushi/client_grpc.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/katsubushi COMPONENT dev)
install(EXPORT katsubushiGrpcTargets NAMESPACE katsubushi:: DESTINATION ${KATSUBUSHI_CMAKE_DIR}
  COMPONENT dev)
file(GLOB KATSUBUSHI_ID_HEADERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/id/*.hpp)
install(FILES ${KATSUBUSHI_ID_HEADERS}
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/katsubushi/id COMPONENT dev)
install(EXPORT katsubushiTargets NAMESPACE katsubushi:: DESTINATION ${KATSUBUSHI_CMAKE_DIR}
  COMPONENT dev)

configure_package_config_file(cmake/katsubushiConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/katsubushiConfig.cmake INSTALL_DESTINATION ${KATSUBUSHI_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/katsubushiConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/katsubushiConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/katsubushiConfigVersion.cmake
  DESTINATION ${KATSUBUSHI_CMAKE_DIR} COMPONENT dev)

# katsubushi-client.pc, relocatable: its prefix is found from where it lies
# (${pcfiledir}), so `cmake --install --prefix` anywhere needs no rewrite.
file(RELATIVE_PATH KATSUBUSHI_PC_TO_PREFIX "/prefix/${KATSUBUSHI_PKGCONFIG_DIR}" "/prefix")
string(REGEX REPLACE "/$" "" KATSUBUSHI_PC_TO_PREFIX "${KATSUBUSHI_PC_TO_PREFIX}")
configure_file(cmake/katsubushi-client.pc.in ${CMAKE_CURRENT_BINARY_DIR}/katsubushi-client.pc @ONLY)
configure_file(cmake/katsubushi-client-grpc.pc.in ${CMAKE_CURRENT_BINARY_DIR}/katsubushi-client-grpc.pc
  @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/katsubushi-client.pc
  ${CMAKE_CURRENT_BINARY_DIR}/katsubushi-client-grpc.pc
  DESTINATION ${KATSUBUSHI_PKGCONFIG_DIR} COMPONENT dev)
