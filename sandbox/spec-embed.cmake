# Embeds common/catalog/wdt-api-spec.json into the sandbox library (sbx_spec_embedded_json),
# so wdt-sandbox builds the plans of the reports its hand-made model does not cover
# (sandbox/sbx_spec.c) whatever its working directory.
include(${CMAKE_SOURCE_DIR}/common/cmake/embed-file.cmake)
wdts_embed_file(wdtssandbox ${CMAKE_SOURCE_DIR}/common/catalog/wdt-api-spec.json
                sbx_spec_embedded_json)
