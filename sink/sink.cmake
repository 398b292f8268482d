# The reference consumer (wdt-sink-sqlite): sink/*.c → libwdtssink, the only code that
# links SQLite. Included at the end of the top-level CMakeLists.txt, after the programs
# and the tests exist, so it can link itself into them: the program, the unit tests
# tests/unit/test_sink*.c and the integration tests tests/integration/12NN-*.c.
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
wdts_module(wdtssink ${CMAKE_SOURCE_DIR}/sink wdtscommon PkgConfig::SQLITE3)
target_link_libraries(wdt-sink-sqlite PRIVATE wdtssink)
if(WDTS_BUILD_TESTS)
  file(GLOB sink_tests CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/test_sink*.c
    ${CMAKE_SOURCE_DIR}/tests/integration/12[0-9][0-9]-*.c)
  foreach(src ${sink_tests})
    get_filename_component(name ${src} NAME_WE)
    foreach(target ${name} it-${name})
      if(TARGET ${target})
        target_link_libraries(${target} PRIVATE wdtssink)
      endif()
    endforeach()
  endforeach()
endif()
