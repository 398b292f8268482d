# Embeds common/lua/*.lua into libwdtscommon: at build time lua-gen.cmake turns every
# script NAME.lua into `const unsigned char wdts_lua_src_NAME[]` (bytes + NUL) and
# `const size_t wdts_lua_len_NAME` in <build>/generated/wdts_lua_scripts.c, which is
# compiled into wdtscommon. common/src/lua.c refers to each symbol by name, so a
# script it needs that has no file fails the link. Included by the top-level
# CMakeLists.txt after the wdtscommon target exists; needs nothing but CMake.
file(GLOB wdts_lua_files CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/common/lua/*.lua)
set(wdts_lua_out ${CMAKE_BINARY_DIR}/generated/wdts_lua_scripts.c)
add_custom_command(
  OUTPUT ${wdts_lua_out}
  COMMAND ${CMAKE_COMMAND} -DOUT=${wdts_lua_out} "-DFILES=${wdts_lua_files}"
          -P ${CMAKE_SOURCE_DIR}/common/cmake/lua-gen.cmake
  DEPENDS ${wdts_lua_files} ${CMAKE_SOURCE_DIR}/common/cmake/lua-gen.cmake
  COMMENT "Embedding ${CMAKE_SOURCE_DIR}/common/lua/*.lua"
  VERBATIM)
target_sources(wdtscommon PRIVATE ${wdts_lua_out})
