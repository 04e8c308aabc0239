import DepotTestSupport
import Foundation
import Testing

/// The repository's promises under stress (SPEC §7): concurrent writers all land, and a
/// `kill -9` at any moment leaves a tree that `depot verify` passes and apt-get accepts.
@Suite struct SafetyTests {
    /// Starts `depot` without waiting for it.
    private func launch(_ repository: ScratchRepository, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestSupport.depotExecutable)
        process.arguments = ["--root", repository.root.path] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test func sixteenConcurrentPushesAndPromotionsAllLand() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        var files: [String] = []
        defer { for file in files { try? FileManager.default.removeItem(atPath: file) } }
        for number in 0..<12 { files.append(try build("swarm-\(number)", version: "1.0-\(number)")) }
        try #require(
            try repository.depot([
                "push", "development", TestSupport.fixture("good/epochal_3.1-1_amd64.deb"),
                TestSupport.fixture("good/hello-depot_1.0-1_all.deb"),
            ]).status == 0)

        var processes = try files.map { try launch(repository, ["push", "development", $0]) }
        processes += try (0..<2).map { _ in try launch(repository, ["promote", "epochal", "--from", "development"]) }
        processes += try (0..<2).map { _ in try launch(repository, ["promote", "hello-depot", "--from", "development"])
        }
        #expect(processes.count == 16)
        for process in processes { process.waitUntilExit() }
        #expect(processes.allSatisfy { $0.terminationStatus == 0 })

        let development = try repository.depot(["list", "development"]).text
        for number in 0..<12 { #expect(development.contains("swarm-\(number) "), "swarm-\(number) is missing") }
        let staging = try repository.depot(["list", "staging"]).text
        #expect(staging.contains("epochal") && staging.contains("hello-depot"))
        #expect(try repository.history("development").count == 13)  // the first push and twelve concurrent ones
        #expect(try repository.depot(["verify"]).status == 0)
    }

    @Test func aMissingSigningKeyRefusesEveryChangeBeforeItIsMade() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let snowbird = TestSupport.fixture("good/snowbird_1.4.2-1_amd64.deb")
        try #require(try repository.depot(["push", "development", snowbird]).status == 0)
        let keyring = repository.root.appendingPathComponent(".depot/gnupg")
        let saved = repository.root.appendingPathComponent("gnupg-saved")
        _ = try TestSupport.run("gpgconf", ["--homedir", keyring.path, "--kill", "gpg-agent"])
        try FileManager.default.moveItem(at: keyring, to: saved)

        // Each of these would otherwise record its change and then fail to publish it.
        try expectRefusals(
            repository,
            [
                ["push", "staging", snowbird], ["promote", "snowbird", "--from", "development"],
                ["remove", "development", "snowbird"], ["publish"],
            ].map { ($0, "restore \(keyring.path) from a backup, or set Sign-With in depot.conf to a key it holds") })
        let verified = try repository.depot(["verify"])
        #expect(verified.status != 0)
        #expect(verified.standardError.contains("verification found 1 problem:"), "\(verified.standardError)")
        #expect(verified.standardError.contains("not in the GnuPG home \(keyring.path)"))

        try? FileManager.default.removeItem(at: keyring)
        try FileManager.default.moveItem(at: saved, to: keyring)
        #expect(try repository.depot(["push", "staging", snowbird]).status == 0)
        #expect(try repository.depot(["verify"]).status == 0)
    }

    /// Whether this process may mount a tmpfs: root, outside a container that forbids it.
    static let canMount: Bool = {
        guard getuid() == 0, let probe = try? TestSupport.makeTemporaryDirectory("mount") else { return false }
        defer { try? FileManager.default.removeItem(at: probe) }
        guard (try? TestSupport.run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe.path]))?.status == 0
        else { return false }
        _ = try? TestSupport.run("umount", [probe.path])
        return true
    }()

    /// Replaces `filler` with a file taking all the space of its file system but `bytesLeft`.
    private func fill(_ filler: String, leaving bytesLeft: Int) throws {
        try? FileManager.default.removeItem(atPath: filler)
        let folder = (filler as NSString).deletingLastPathComponent
        let free = try #require(
            try FileManager.default.attributesOfFileSystem(forPath: folder)[.systemFreeSize] as? Int)
        let descriptor = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        if free > bytesLeft { try #require(posix_fallocate(descriptor, 0, off_t(free - bytesLeft)) == 0) }
    }

    @Test(.enabled(if: canMount, "needs to mount a tmpfs (root)"))
    func aFullFileSystemFailsAPushSayingSoAndLeavesTheRepositoryAsItWas() throws {
        let mountPoint = try TestSupport.makeTemporaryDirectory("full")
        try #require(
            try TestSupport.run("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mountPoint.path]).status == 0)
        defer {
            _ = try? TestSupport.run("umount", ["--lazy", mountPoint.path])
            try? FileManager.default.removeItem(at: mountPoint)
        }
        let repository = try ScratchRepository(at: mountPoint.appendingPathComponent("repo"))
        defer { repository.remove() }
        try #require(
            try repository.depot(["push", "development", TestSupport.fixture("good/snowbird_1.4.2-1_amd64.deb")])
                .status == 0)
        let packages = ["good/epochal_3.1-1_amd64.deb", "good/libsnow1_1.0~rc1-1_amd64.deb"].map(TestSupport.fixture)
        let filler = mountPoint.appendingPathComponent("filler").path

        // From no space at all upwards, each push fails at a later step: opening the store,
        // writing the copies, committing, publishing.
        var refusals = 0
        for kibibytesLeft in stride(from: 0, through: 512, by: 8) {
            try fill(filler, leaving: kibibytesLeft * 1024)
            let before = try repository.snapshot()
            let result = try repository.depot(["push", "development"] + packages)
            if result.status == 0 { break }
            #expect(result.standardError.split(separator: "\n").count == 1, "\(result.standardError)")
            #expect(
                result.standardError.hasPrefix("depot: error: ")
                    && result.standardError.contains("free some space, then run the command again)"),
                "\(result.standardError)")
            // Past its commit a push is recorded, and only its publishing is left to the next
            // command that takes the lock.
            if result.standardError.hasPrefix("depot: error: publishing: ") {
                #expect(result.standardError.hasSuffix("the push is recorded but not yet published: fix that, then 'depot publish' (or the next change) publishes it\n"))
                break
            }
            #expect(try repository.snapshot() == before, "\(kibibytesLeft) KiB left: \(result.standardError)")
            refusals += 1
        }
        #expect(refusals > 3)

        try FileManager.default.removeItem(atPath: filler)
        let again = try repository.depot(["push", "development"] + packages)
        #expect(again.status == 0, "\(again.standardError)")
        #expect(
            try listed(repository, "development")
                == ["snowbird 1.4.2-1 amd64", "epochal 2:3.1-1 amd64", "libsnow1 1.0~rc1-1 amd64"])
        let verified = try repository.depot(["verify"])
        #expect(verified.status == 0 && verified.standardError.isEmpty, "\(verified.standardError)")
    }

    @Test(.enabled(if: TestSupport.hasProgram("apt-get"), "needs apt-get"))
    func killNineAtRandomMomentsLeavesAConsistentRepository() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        var files: [String] = []
        defer { for file in files { try? FileManager.default.removeItem(atPath: file) } }
        var generator = SystemRandomNumberGenerator()
        var succeeded: [String] = []
        for round in 0..<12 {
            files.append(try build("victim-\(round)", version: "1.0-1"))
            let arguments =
                round % 3 == 2
                ? ["promote", "--all", "--from", "development"] : ["push", "development", files.last!]
            let process = try launch(repository, arguments)
            usleep(UInt32.random(in: 0...250_000, using: &generator))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if process.terminationReason == .exit && process.terminationStatus == 0 && arguments[0] == "push" {
                succeeded.append("victim-\(round)")
            }
            let verify = try repository.depot(["verify"])
            #expect(verify.status == 0, "round \(round): \(verify.standardError)")
        }

        print("kill -9 test: \(succeeded.count) of 12 commands finished before the kill")
        // What a client sees right now is consistent.
        let server = try StaticHTTPServer(serving: repository.publicDirectory)
        defer { server.stop() }
        let apt = try repository.aptClient("development", through: server)
        defer { apt.remove() }
        let update = try apt.run(["update"])
        #expect(update.status == 0, "\(update.text)\(update.standardError)")

        // The next command publishes whatever an interrupted one left, and nothing reported
        // as done is lost.
        try #require(try repository.depot(["publish"]).status == 0)
        let listed = try repository.depot(["list", "development"]).text
        for name in succeeded { #expect(listed.contains(name + " "), "\(name) was pushed but is gone") }
        let verify = try repository.depot(["verify"])
        #expect(verify.status == 0 && !verify.text.contains("note:"), "\(verify.text)\(verify.standardError)")
        #expect(try apt.run(["update"]).status == 0)
    }
}
