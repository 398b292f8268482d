# Embeds common/catalog/reports.json into libwdtscommon (wdts_catalog_embedded_json), so
# every program finds the default report catalog whatever its working directory.
include(${CMAKE_SOURCE_DIR}/common/cmake/embed-file.cmake)
wdts_embed_file(wdtscommon ${CMAKE_CURRENT_LIST_DIR}/reports.json wdts_catalog_embedded_json)
