# Included from the root CMakeLists.txt.
# Installing: `cmake --install` and the .debs. Two components, one .deb each:
#   daemon (package katsubushi): the daemon, katsubushi-dump, katsubushi-bench,
#     katsubushi-client, and katsubushi-conform with its cases;
#   dev (package katsubushi-dev): the client library (static and shared) and
#     its gRPC transport (katsubushi::client_grpc), the id layer
#     (katsubushi::id, the generator to embed), their headers, the CMake
#     package (cmake/katsubushi_package.cmake) and the .pc files.
# Every install() without a COMPONENT is the daemon's.
set(CMAKE_INSTALL_DEFAULT_COMPONENT_NAME daemon)
install(TARGETS katsubushi katsubushi-dump katsubushi-bench katsubushi-conform katsubushi-client
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The daemon's epoll build, which katsubushi runs where io_uring is refused
# (README, Event loops): not a command of its own.
if(TARGET katsubushi-epoll)
  install(TARGETS katsubushi-epoll RUNTIME DESTINATION ${KATSUBUSHI_EPOLL_INSTALL_DIR})
endif()
include(cmake/katsubushi_package.cmake)
install(DIRECTORY src/conform/cases/ DESTINATION ${KATSUBUSHI_CONFORM_CASES_INSTALL_DIR}
  FILES_MATCHING PATTERN "*.case")
install(FILES dist/katsubushi.service dist/katsubushi.socket dist/katsubushi-http.socket
  dist/katsubushi-grpc.socket DESTINATION ${KATSUBUSHI_SYSTEMD_UNIT_DIR})
install(FILES ${KATSUBUSHI_MANPAGE}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/katsubushi)
# The service's settings: /etc/default/katsubushi under prefix /usr (the
# .deb's), <prefix>/etc/default/katsubushi under any other, where the
# installed katsubushi.service is also made to run <prefix>/bin/katsubushi and
# read that file. Decided when installing, as `cmake --install --prefix` and
# cpack choose the prefix then.
install(CODE "set(katsubushi_env_source \"${CMAKE_CURRENT_SOURCE_DIR}/dist/katsubushi.env\")
  set(katsubushi_unit_dir \"${KATSUBUSHI_SYSTEMD_UNIT_DIR}\")
  set(katsubushi_bin_dir \"${CMAKE_INSTALL_BINDIR}\")")
install(CODE [[
  if(CMAKE_INSTALL_PREFIX MATCHES "^/usr/?$")
    set(katsubushi_default_dir /etc/default)
  else()
    set(katsubushi_default_dir "${CMAKE_INSTALL_PREFIX}/etc/default")
    foreach(dir katsubushi_unit_dir katsubushi_bin_dir)
      if(NOT IS_ABSOLUTE "${${dir}}")
        set(${dir} "${CMAKE_INSTALL_PREFIX}/${${dir}}")
      endif()
    endforeach()
    set(service "$ENV{DESTDIR}${katsubushi_unit_dir}/katsubushi.service")
    file(READ "${service}" text)
    foreach(line "ExecStart=/usr/bin/katsubushi" "EnvironmentFile=-/etc/default/katsubushi")
      string(FIND "${text}" "${line}" at)
      if(at EQUAL -1)
        message(FATAL_ERROR "${service}: no '${line}' line to point at this prefix")
      endif()
    endforeach()
    string(REPLACE "ExecStart=/usr/bin/katsubushi"
      "ExecStart=${katsubushi_bin_dir}/katsubushi" text "${text}")
    string(REPLACE "EnvironmentFile=-/etc/default/katsubushi"
      "EnvironmentFile=-${katsubushi_default_dir}/katsubushi" text "${text}")
    file(WRITE "${service}" "${text}")
    message(STATUS "Pointed at ${CMAKE_INSTALL_PREFIX}: ${service}")
  endif()
  file(INSTALL "${katsubushi_env_source}" DESTINATION "${katsubushi_default_dir}"
    RENAME katsubushi PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
]])

# The .deb: `cpack -G DEB` in the build directory (ci/package.sh). Its
# dependencies come from dpkg-shlibdeps. The maintainer scripts (dist/deb/)
# reload systemd's units and neither enable nor start the service: every
# instance needs a worker id of its own, set in /etc/default/katsubushi first.
set(KATSUBUSHI_DEB_MAINTAINER
  "katsubushi-cpp maintainers <maintainers@users.noreply.r-seed-d799a0cc.example>"
  CACHE STRING "Maintainer field of the .deb")
# The project's own page, where it is published; no Homepage field without one.
set(KATSUBUSHI_HOMEPAGE "" CACHE STRING "Homepage field of the .deb (empty: none)")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME katsubushi)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL daemon dev)
set(CPACK_DEBIAN_DAEMON_PACKAGE_NAME katsubushi)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME katsubushi-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "unique 64-bit id server speaking the memcached protocol")
# The long description, in lines as the control file wants them.
set(CPACK_PACKAGE_DESCRIPTION [[
katsubushi hands out unique, time-ordered 64-bit ids over the memcached text,
meta and binary protocols, HTTP and gRPC: a drop-in replacement for
go-katsubushi (the same id layout, flags, environment variables and replies).
The service is not enabled or started on installation: set a worker id in
/etc/default/katsubushi first.]])
# One package's description each: the summary line, then the long text.
set(CPACK_DEBIAN_DAEMON_DESCRIPTION
  "${CPACK_PACKAGE_DESCRIPTION_SUMMARY}\n${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_DEBIAN_DEV_DESCRIPTION [[
client library and id generator for katsubushi id servers
The katsubushi client library (C++20 and a C ABI, static and shared) that
fetches ids from several katsubushi or go-katsubushi servers with failover,
checking every id, over memcached, HTTP and (libkatsubushi-client-grpc) gRPC;
and katsubushi::id, the id generator to embed. With the CMake package
(find_package(katsubushi CONFIG)) and katsubushi-client.pc.]])
# Linking katsubushi::client_grpc statically needs gRPC's and Protobuf's
# development files; the shared libraries' runtime ones are in Depends.
set(CPACK_DEBIAN_DEV_PACKAGE_SUGGESTS "libgrpc++-dev, libprotobuf-dev")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${KATSUBUSHI_DEB_MAINTAINER}")
if(KATSUBUSHI_HOMEPAGE)
  set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${KATSUBUSHI_HOMEPAGE}")
endif()
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The daemon's maintainer scripts and conffile; the -dev package has none.
set(CPACK_DEBIAN_DAEMON_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_SOURCE_DIR}/dist/deb/conffiles
  ${CMAKE_CURRENT_SOURCE_DIR}/dist/deb/postinst ${CMAKE_CURRENT_SOURCE_DIR}/dist/deb/prerm
  ${CMAKE_CURRENT_SOURCE_DIR}/dist/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
