# Included from the root CMakeLists.txt.
# The man page, katsubushi(1): OPTIONS and ENVIRONMENT from the README's Flags
# table (src/man/make_manpage.py), so a flag with a README row is on the page.
# The paths it names are the .deb's.
find_program(KATSUBUSHI_PYTHON3 python3 HINTS /usr/bin REQUIRED)
set(KATSUBUSHI_MAN_DIR ${CMAKE_CURRENT_BINARY_DIR}/man)
set(KATSUBUSHI_MANPAGE ${KATSUBUSHI_MAN_DIR}/katsubushi.1)
# systemd reads units from <prefix>/lib/systemd/system for /usr and /usr/local
# alike (CMAKE_INSTALL_LIBDIR is lib/<multiarch> under /usr on Debian).
set(KATSUBUSHI_SYSTEMD_UNIT_DIR lib/systemd/system CACHE STRING
  "Where the systemd units are installed, relative to the install prefix")
add_custom_command(OUTPUT ${KATSUBUSHI_MANPAGE} ${KATSUBUSHI_MANPAGE}.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${KATSUBUSHI_MAN_DIR}
  COMMAND ${KATSUBUSHI_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/src/man/make_manpage.py
    ${CMAKE_CURRENT_SOURCE_DIR}/README.md ${KATSUBUSHI_MANPAGE} --gz ${KATSUBUSHI_MANPAGE}.gz
    --version ${PROJECT_VERSION} --env-file /etc/default/katsubushi
    --unit-dir /usr/${KATSUBUSHI_SYSTEMD_UNIT_DIR} --doc-dir /usr/share/doc/katsubushi
    --state-file /var/lib/katsubushi/state
  DEPENDS README.md src/man/make_manpage.py
  COMMENT "Generating katsubushi.1 from README.md"
  VERBATIM)
add_custom_target(katsubushi_manpage ALL DEPENDS ${KATSUBUSHI_MANPAGE} ${KATSUBUSHI_MANPAGE}.gz)
if(KATSUBUSHI_TESTS)
  # Every flag -help prints is on the page (and no other); groff renders it
  # without a warning; and both checks fail on a page that should fail them.
  set(check_manpage ${KATSUBUSHI_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/src/man/check_manpage.py)
  add_test(NAME ManPage.ListsEveryHelpFlag
    COMMAND ${check_manpage} flags --bin $<TARGET_FILE:katsubushi> --page ${KATSUBUSHI_MANPAGE})
  add_test(NAME ManPage.RendersWithoutWarnings
    COMMAND ${check_manpage} render --page ${KATSUBUSHI_MANPAGE})
  add_test(NAME ManPage.ChecksFailOnAMissingRowAndAWarning
    COMMAND ${check_manpage} selftest --bin $<TARGET_FILE:katsubushi>
      --readme ${CMAKE_CURRENT_SOURCE_DIR}/README.md
      --generator ${CMAKE_CURRENT_SOURCE_DIR}/src/man/make_manpage.py)
  set_tests_properties(ManPage.ListsEveryHelpFlag ManPage.RendersWithoutWarnings
    ManPage.ChecksFailOnAMissingRowAndAWarning PROPERTIES LABELS unit TIMEOUT 60)
  # The systemd units in dist/ load without a warning (systemd-analyze verify,
  # offline) and name their sockets as the daemon expects; and a broken copy
  # fails that check.
  add_test(NAME SystemdUnits.Verify
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/ci/verify_units.sh verify $<TARGET_FILE:katsubushi>)
  add_test(NAME SystemdUnits.VerifyFailsOnABrokenUnit
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/ci/verify_units.sh selftest $<TARGET_FILE:katsubushi>)
  set_tests_properties(SystemdUnits.Verify SystemdUnits.VerifyFailsOnABrokenUnit
    PROPERTIES LABELS unit TIMEOUT 120)
endif()
