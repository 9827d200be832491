# The dashboard's files: web/build.mjs bundles web/src with esbuild (from web/node_modules,
# installed by scripts/install-deps.sh with `npm ci`; nothing is fetched here), compresses
# them and writes them as a C++ source compiled into controller_dashboard. It fails when the
# first load is over 300 KB compressed. The bundle and its sizes (size.json) are left in
# build/dashboard/ too.
find_program(AV_NODE node REQUIRED)
set(AV_DASHBOARD_WEB ${CMAKE_SOURCE_DIR}/controller/dashboard/web)
set(AV_DASHBOARD_CC ${CMAKE_BINARY_DIR}/generated/dashboard_files.cc)
file(GLOB_RECURSE AV_DASHBOARD_SOURCES CONFIGURE_DEPENDS ${AV_DASHBOARD_WEB}/src/*)
add_custom_command(
  OUTPUT ${AV_DASHBOARD_CC}
  COMMAND ${AV_NODE} ${AV_DASHBOARD_WEB}/build.mjs ${AV_DASHBOARD_CC} ${CMAKE_BINARY_DIR}/dashboard
  DEPENDS ${AV_DASHBOARD_WEB}/build.mjs ${AV_DASHBOARD_WEB}/package-lock.json
          ${AV_DASHBOARD_SOURCES}
  COMMENT "Bundling the dashboard (esbuild)"
  VERBATIM)
set_source_files_properties(${AV_DASHBOARD_CC} PROPERTIES GENERATED TRUE
                                                          SKIP_UNITY_BUILD_INCLUSION TRUE)
target_sources(controller_dashboard PRIVATE ${AV_DASHBOARD_CC})
