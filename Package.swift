// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "Depot",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "DebianFormat", targets: ["DebianFormat"]),
        .library(name: "AptRepository", targets: ["AptRepository"]),
        .library(name: "DepotCore", targets: ["DepotCore"]),
        .library(name: "DepotServer", targets: ["DepotServer"]),
        .executable(name: "depot", targets: ["depot"]),
        .executable(name: "depot-bench", targets: ["depot-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // Without its default traits (swift-configuration, full Foundation): faster to build,
        // and nothing Depot uses needs them.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // Hummingbird's own dependencies, named for the channel handler that serves files.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // postgres-nio's own TLS, named for the sslmode of a PostgreSQL store's address.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // /metrics: swift-metrics' API, with Prometheus' text format behind it.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // System libraries: module maps and shim headers only.
        .systemLibrary(
            name: "CArchive", pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(
            name: "CGPGME", pkgConfig: "gpgme",
            providers: [.apt(["libgpgme-dev"])]),
        .systemLibrary(
            name: "CLZMA", pkgConfig: "liblzma",
            providers: [.apt(["liblzma-dev"])]),
        // Debian 12 ships no bzip2.pc; the header is in /usr/include.
        .systemLibrary(
            name: "CBZip2",
            providers: [.apt(["libbz2-dev"])]),
        .systemLibrary(
            name: "CDeflate", pkgConfig: "libdeflate",
            providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(
            name: "COpenSSLCrypto", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),
        // Linux calls glibc hides from Swift's Glibc module.
        .systemLibrary(name: "CSystemCalls"),

        .target(
            name: "DebianFormat",
            dependencies: [
                "CArchive", "COpenSSLCrypto",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(
            name: "AptRepository",
            dependencies: [
                "DebianFormat", "CLZMA", "CDeflate", "CGPGME", "CSystemCalls",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(
            name: "DepotCore",
            dependencies: [
                "DebianFormat", "AptRepository", "S3Client",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(
            name: "DepotServer",
            dependencies: [
                "DepotCore", "CSystemCalls",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]),
        // An S3 client (AWS Signature Version 4) that knows nothing of Depot.
        .target(
            name: "S3Client",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        .executableTarget(
            name: "depot",
            dependencies: [
                "DepotCore", "DepotServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]),
        .executableTarget(
            name: "depot-bench",
            dependencies: [
                "DebianFormat", "AptRepository",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .target(name: "DepotTestSupport", path: "Tests/DepotTestSupport"),
        .testTarget(
            name: "DebianFormatTests",
            dependencies: ["DebianFormat", "DepotTestSupport"]),
        .testTarget(
            name: "AptRepositoryTests",
            dependencies: ["AptRepository", "DepotTestSupport"]),
        .testTarget(
            name: "DepotCoreTests",
            dependencies: ["DepotCore", "DepotTestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(
            name: "DepotServerTests",
            dependencies: [
                "DepotServer", "DepotCore", "DepotTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["depot", "DepotTestSupport", "DepotCore", "DebianFormat", "AptRepository"]),
        .testTarget(
            name: "S3ClientTests",
            dependencies: ["S3Client", "DepotTestSupport"]),
        .testTarget(
            name: "SystemLibraryTests",
            dependencies: ["CArchive", "CGPGME", "CLZMA", "CBZip2", "CDeflate", "COpenSSLCrypto"]),
    ]
)
