# What `cmake --install` puts where (GNUInstallDirs), and the Debian package `cpack -G DEB` makes
# of it. The binary's own rule is in shell/CMakeLists.txt.

# The manual pages (mdoc, written by hand in docs/man/).
install(FILES docs/man/pmdb.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES docs/man/pmql.7 DESTINATION ${CMAKE_INSTALL_MANDIR}/man7)

# Shell completion.
install(FILES scripts/completion/pmdb.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME pmdb)
install(FILES scripts/completion/_pmdb DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)

# The README and docs/ keep their relative layout, so the README's links still work.
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
file(GLOB PMDB_DOCS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PMDB_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
file(GLOB PMDB_EXAMPLES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/examples/*.jsonl ${PROJECT_SOURCE_DIR}/examples/*.pmq
     ${PROJECT_SOURCE_DIR}/examples/*.md)
install(FILES ${PMDB_EXAMPLES} DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# examples/demo.pmdb: the demo incidents imported into a store, by the pmdb just built.
set(PMDB_DEMO_JSONL ${PMDB_EXAMPLES})
list(FILTER PMDB_DEMO_JSONL INCLUDE REGEX "\\.jsonl$")
add_custom_command(
  OUTPUT ${PROJECT_BINARY_DIR}/examples/demo.pmdb
  COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/examples
  COMMAND ${CMAKE_COMMAND} -E rm -f ${PROJECT_BINARY_DIR}/examples/demo.pmdb
  COMMAND sh -c "exec \"$@\" > /dev/null" sh $<TARGET_FILE:pmdb> import ${PROJECT_BINARY_DIR}/examples/demo.pmdb
          ${PMDB_DEMO_JSONL}
  DEPENDS pmdb ${PMDB_DEMO_JSONL}
  COMMENT "Importing the demo incidents into examples/demo.pmdb"
  VERBATIM)
add_custom_target(pmdb_demo_store ALL DEPENDS ${PROJECT_BINARY_DIR}/examples/demo.pmdb)
install(FILES ${PROJECT_BINARY_DIR}/examples/demo.pmdb DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# The Debian package: cpack -G DEB in the build directory (or `cmake --build build --target
# package`) makes pmdb_VERSION_ARCH.deb, installing under /usr. Its Depends are computed from the
# libraries the binary links (dpkg-shlibdeps, from dpkg-dev), plus tzdata, read at run time.
set(PMDB_PACKAGE_MAINTAINER "pmdb maintainers <maintainers@pmdb.invalid>"
    CACHE STRING "The Maintainer of the Debian package")
set(PMDB_PACKAGE_HOMEPAGE "" CACHE STRING "The Homepage of the Debian package (none when empty)")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME pmdb)
set(CPACK_PACKAGE_VENDOR "pmdb")
set(CPACK_PACKAGE_CONTACT "${PMDB_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "event-sourced incident postmortem database")
set(CPACK_PACKAGE_DESCRIPTION
    "pmdb keeps every fact about an outage (status page posts, outside reports, alerts, \
deploys, metrics, communications, component states) as an immutable event in a SQLite file. \
It answers temporal questions in PMQL, its query language (such as: time from first report to \
99% fixed), and renders postmortems as Markdown. It comes with a shell in the manner of sqlite3 \
and psql, importers for JSON Lines, Statuspage and CSV timelines, and the demo incidents of \
2024-12-11.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${PMDB_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
if(PMDB_PACKAGE_HOMEPAGE)
  set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${PMDB_PACKAGE_HOMEPAGE}")
endif()
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS tzdata)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion, man-db")
# Files under /usr only; the tree of the package is the install tree.
set(CPACK_SOURCE_GENERATOR "")
include(CPack)
