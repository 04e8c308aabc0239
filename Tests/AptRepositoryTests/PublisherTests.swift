import DebianFormat
import DepotTestSupport
import Foundation
import Testing

@testable import AptRepository

/// The publisher on its own, with synthetic stanzas (apt needs no pool files to update).
@Suite(.serialized) struct PublisherTests {
    /// A signer with a fresh key in a short temporary GnuPG home.
    static func makeSigner() throws -> (Signer, URL) {
        let home = try TestSupport.makeTemporaryDirectory("gpg")
        chmod(home.path, 0o700)
        return (try Signer.generateKey(homeDirectory: home.path, userID: "Publisher Tests <tests@depot.example>"), home)
    }

    static func stanzas(_ count: Int, seed: Int = 0) -> [PackagesIndex.Entry] {
        (0..<count).map { number in
            let name = "pkg-\(number)"
            let stanza = """
                Package: \(name)
                Version: 1.\(number + seed)-1
                Architecture: amd64
                Maintainer: Tests <tests@depot.example>
                Description: synthetic package \(number)
                Filename: pool/main/p/\(name)/\(name)_1.\(number)-1_amd64.deb
                Size: \(1000 + number)
                MD5sum: \(String(repeating: "0", count: 32))
                SHA256: \(String(repeating: "a", count: 64))

                """
            return PackagesIndex.Entry(package: name, stanza: stanza)
        }.sorted { $0.package < $1.package }
    }

    @Test func manyChunksMakeOneGzipFileAndOneXzStreamThatAptReads() throws {
        let (signer, home) = try Self.makeSigner()
        let root = try TestSupport.makeTemporaryDirectory("publish")
        defer {
            _ = try? TestSupport.run("gpgconf", ["--homedir", home.path, "--kill", "gpg-agent"])
            try? FileManager.default.removeItem(at: home)
            try? FileManager.default.removeItem(at: root)
        }
        let entries = Self.stanzas(2_000)
        #expect(Publisher.chunk(entries).count > 5)
        let publisher = Publisher(
            publicDirectory: root.appendingPathComponent("public").path, signer: signer,
            chunkCacheDirectory: root.appendingPathComponent("cache").path)
        let release = ReleaseInfo(
            origin: "Tests", label: "Tests", distribution: "stable", architectures: ["amd64"], components: ["main"])
        try publisher.publish(
            release, indices: [PackagesIndex(component: "main", architecture: "amd64", entries: entries)],
            date: Int(Date().timeIntervalSince1970))

        let folder = root.appendingPathComponent("public/dists/stable/main/binary-amd64")
        let plain = try Data(contentsOf: folder.appendingPathComponent("Packages"))
        for (tool, name) in [("gzip", "Packages.gz"), ("xz", "Packages.xz")] {
            let unpacked = try TestSupport.run(tool, ["-dc", folder.appendingPathComponent(name).path])
            #expect(unpacked.status == 0 && unpacked.standardOutput == plain, "\(tool) disagrees")
        }
        let listing = try TestSupport.run(
            "xz", ["--robot", "--list", folder.appendingPathComponent("Packages.xz").path]
        ).text
        let streams = listing.split(separator: "\n").first { $0.hasPrefix("totals") }?.split(separator: "\t")
        #expect(streams?[1] == "1", "one xz stream")
        #expect(Int(streams?[2] ?? "") ?? 0 > 5, "many xz blocks")

        try File.write(signer.exportPublicKey(), to: root.appendingPathComponent("key.asc"))
        let server = try StaticHTTPServer(serving: root.appendingPathComponent("public").path)
        defer { server.stop() }
        // apt prefers xz; the second client is told to take gzip first.
        for order in ["xz", "gz"] {
            let apt = try AptClient(sources: [
                "deb [signed-by=\(root.appendingPathComponent("key.asc").path)] \(server.url) stable main"
            ])
            defer { apt.remove() }
            let update = try apt.run(["-o", "Acquire::CompressionTypes::Order::=\(order)", "update"])
            #expect(update.status == 0, "\(update.text)\(update.standardError)")
            #expect(!(update.text + update.standardError).contains("W:"))
            #expect(try apt.candidate("pkg-0") == "1.0-1")
            #expect(try apt.candidate("pkg-1999") == "1.1999-1")
            // apt fetched that compression, by its strongest hash.
            let release = try String(
                contentsOf: root.appendingPathComponent("public/dists/stable/Release"), encoding: .utf8)
            let entry = try #require(
                ReleaseFile.entries(of: release).first { $0.algorithm == .sha512 && $0.path.hasSuffix(".\(order)") })
            #expect(server.requestedPaths().contains("/dists/stable/main/binary-amd64/by-hash/SHA512/\(entry.hash)"))
        }
    }

    @Test func chunksCompressedAheadAreCachedOnlyWhenPublishedAndGiveTheSameFiles() throws {
        let (signer, home) = try Self.makeSigner()
        let root = try TestSupport.makeTemporaryDirectory("precompress")
        defer {
            _ = try? TestSupport.run("gpgconf", ["--homedir", home.path, "--kill", "gpg-agent"])
            try? FileManager.default.removeItem(at: home)
            try? FileManager.default.removeItem(at: root)
        }
        func publisher(_ name: String) -> Publisher {
            Publisher(
                publicDirectory: root.appendingPathComponent("\(name)/public").path, signer: signer,
                chunkCacheDirectory: root.appendingPathComponent("\(name)/cache").path)
        }
        let release = ReleaseInfo(
            origin: "Tests", label: "Tests", distribution: "stable", architectures: ["amd64"], components: ["main"])
        let indices = [PackagesIndex(component: "main", architecture: "amd64", entries: Self.stanzas(1_000))]
        func files(_ name: String) throws -> [String: Data] {
            let folder = root.appendingPathComponent("\(name)/public/dists/stable/main/binary-amd64")
            return try Dictionary(
                uniqueKeysWithValues: ["Packages", "Packages.gz", "Packages.xz"].map {
                    ($0, try Data(contentsOf: folder.appendingPathComponent($0)))
                })
        }

        let ahead = publisher("ahead")
        let precompressed = try ahead.precompress(indices)
        let cache = root.appendingPathComponent("ahead/cache")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: cache.path))?.isEmpty ?? true)
        try ahead.publish(release, indices: indices, date: 0, precompressed: precompressed)
        let cached = try FileManager.default.contentsOfDirectory(atPath: cache.path)
        #expect(cached.count == 2 * Publisher.chunk(indices[0].entries).count)

        try publisher("plain").publish(release, indices: indices, date: 0)
        #expect(try files("ahead") == files("plain"))
    }

    @Test func changingOnePackageRecompressesOneChunk() throws {
        let entries = Self.stanzas(3_000)
        var changed = entries
        changed[1234].stanza = changed[1234].stanza.replacingOccurrences(of: "Size: ", with: "Size: 9")
        let before = Set(Publisher.chunk(entries))
        let after = Publisher.chunk(changed)
        #expect(after.count == before.count)
        #expect(after.filter { !before.contains($0) }.count == 1)

        var added = entries
        added.append(PackagesIndex.Entry(package: "zzz-new", stanza: "Package: zzz-new\nVersion: 1\n"))
        #expect(Publisher.chunk(added).filter { !before.contains($0) }.count == 1)
    }
}

private enum File {
    static func write(_ text: String, to url: URL) throws {
        try text.write(to: url, atomically: true, encoding: .utf8)
    }
}
