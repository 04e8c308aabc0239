import DepotTestSupport
import Foundation
import Testing

/// The promise a server relies on: what Depot publishes, the real apt-get accepts, and what
/// apt-get downloads is byte for byte what was pushed.
@Suite(
    .enabled(
        if: TestSupport.hasProgram("apt-get") && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"),
        "needs apt-get and python3"))
struct AptInstallTests {
    static let goodPackages = TestSupport.fixtures(in: "good") + [TestSupport.fixture("real/hello_2.10-3_amd64.deb")]

    @Test func aptGetUpdateAcceptsThePublishedTreeAndDownloadsTheExactFiles() throws {
        let repository = try ScratchRepository(["--origin", "Example Corp"])
        defer { repository.remove() }
        let push = try repository.depot(["push", "staging"] + Self.goodPackages + ["--note", "build 42"])
        #expect(push.status == 0, "\(push.standardError)")

        let server = try StaticHTTPServer(serving: repository.publicDirectory)
        defer { server.stop() }
        let apt = try repository.aptClient("staging", through: server)
        defer { apt.remove() }

        let update = try apt.run(["update"])
        #expect(update.status == 0, "\(update.text)\(update.standardError)")
        let messages = update.text + update.standardError
        #expect(!messages.contains("W:") && !messages.contains("E:"), "apt-get update complained: \(messages)")

        #expect(try apt.candidate("snowbird") == "1.4.2-1")
        #expect(try apt.candidate("epochal") == "2:3.1-1")
        #expect(try apt.candidate("libsnow1") == "1.0~rc1-1")
        #expect(try apt.candidate("hello-depot") == "1.0-1")  // Architecture: all, listed for amd64
        #expect(try apt.candidate("hello") == "2.10-3")

        for package in ["snowbird", "epochal", "libsnow1", "hello-depot", "bzipped", "hello"] {
            let download = try apt.run(["download", package], in: apt.downloads)
            #expect(download.status == 0, "\(download.standardError)")
        }
        let downloaded = try FileManager.default.contentsOfDirectory(atPath: apt.downloads.path).sorted()
        #expect(downloaded.count == 6)
        let originals = try Self.goodPackages.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        for name in downloaded {
            let fetched = try Data(contentsOf: apt.downloads.appendingPathComponent(name))
            #expect(originals.contains(fetched), "\(name) is not byte for byte a file that was pushed")
        }

        let install = try apt.run(["install", "--download-only", "-y", "hello-depot", "bzipped"])
        #expect(install.status == 0, "\(install.text)\(install.standardError)")
        let archived = try Data(
            contentsOf: apt.directory.appendingPathComponent("cache/archives/hello-depot_1.0-1_all.deb"))
        #expect(
            archived
                == (try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("good/hello-depot_1.0-1_all.deb")))))
    }

    @Test func aTamperedIndexMakesAptGetUpdateFail() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try #require(try repository.depot(["push", "development"] + Self.goodPackages).status == 0)
        // Change one byte of every published form of the amd64 index, by-hash copies included.
        let folder = repository.root.appendingPathComponent("public/dists/development/main/binary-amd64")
            .resolvingSymlinksInPath()
        let enumerator = FileManager.default.enumerator(atPath: folder.path)
        var tampered = 0
        while let relative = enumerator?.nextObject() as? String {
            let path = folder.appendingPathComponent(relative).path
            guard var data = FileManager.default.contents(atPath: path), data.count > 100 else { continue }
            data[data.count / 2] ^= 0x20
            try FileManager.default.removeItem(atPath: path)  // by-hash names are hard links
            try data.write(to: URL(fileURLWithPath: path))
            tampered += 1
        }
        #expect(tampered >= 3)

        let server = try StaticHTTPServer(serving: repository.publicDirectory)
        defer { server.stop() }
        let apt = try repository.aptClient("development", through: server)
        defer { apt.remove() }
        let update = try apt.run(["update"])
        #expect(update.status != 0)
        #expect(
            (update.text + update.standardError).contains("Hash Sum mismatch")
                || (update.text + update.standardError).contains("E:"))
        #expect(try apt.candidate("snowbird") == nil)

        let verify = try repository.depot(["verify"])
        #expect(verify.status != 0)
        #expect(verify.standardError.contains("does not match Release"))
    }

    @Test func aKeyOtherThanTheRepositorysMakesAptGetUpdateFail() throws {
        let repository = try ScratchRepository()
        let stranger = try ScratchRepository()
        defer {
            repository.remove()
            stranger.remove()
        }
        try #require(try repository.depot(["push", "production"] + Self.goodPackages).status == 0)
        let server = try StaticHTTPServer(serving: repository.publicDirectory)
        defer { server.stop() }
        let apt = try repository.aptClient("production", through: server, trusting: stranger.archiveKey)
        defer { apt.remove() }
        let update = try apt.run(["update"])
        let messages = update.text + update.standardError
        #expect(update.status != 0, "\(messages)")
        #expect(
            messages.contains("NO_PUBKEY") || messages.contains("couldn't be verified")
                || messages.contains("not signed"))
        #expect(try apt.candidate("snowbird") == nil)
    }
}
