import DepotTestSupport
import Foundation
import Testing

/// `depot verify` names each kind of damage and exits non-zero.
@Suite struct VerifyCommandTests {
    static let snowbird = TestSupport.fixture("good/snowbird_1.4.2-1_amd64.deb")

    private func damaged(_ damage: (ScratchRepository) throws -> Void) throws -> TestSupport.ProcessResult {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try #require(try repository.depot(["push", "staging", Self.snowbird]).status == 0)
        try #require(try repository.depot(["verify"]).status == 0)
        try damage(repository)
        return try repository.depot(["verify"])
    }

    @Test func findsACorruptedPoolFile() throws {
        let result = try damaged { repository in
            let pool = repository.root.appendingPathComponent(
                "public/pool/main/s/snowbird-src/snowbird_1.4.2-1_amd64.deb")
            var bytes = try Data(contentsOf: pool)
            bytes[bytes.count - 10] ^= 0xFF
            try bytes.write(to: pool)
        }
        #expect(result.status != 0)
        #expect(result.standardError.contains("snowbird_1.4.2-1_amd64.deb"), "\(result.standardError)")
    }

    @Test func aMissingOrDamagedStoreIsRefusedNeverReplacedByAnEmptyOne() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try #require(try repository.depot(["push", "staging", Self.snowbird]).status == 0)
        let store = repository.root.appendingPathComponent(".depot/depot.sqlite")
        let saved = try Data(contentsOf: store)
        try FileManager.default.removeItem(at: store)

        // An empty store made by any of these would publish staging empty over its package.
        try expectRefusals(
            repository,
            [
                ["list"], ["publish"], ["verify"], ["push", "development", Self.snowbird],
                ["promote", "snowbird", "--from", "staging"],
            ].map { ($0, "\(store.path): the metadata store is missing; restore it from a backup") })
        #expect(!FileManager.default.fileExists(atPath: store.path))

        try saved.prefix(saved.count / 2).write(to: store)
        try expectRefusals(repository, [(["list"], "(the metadata store is damaged: restore it from a backup)")])

        try saved.write(to: store)
        #expect(try listed(repository, "staging") == ["snowbird 1.4.2-1 amd64"])
        #expect(try repository.depot(["verify"]).status == 0)
    }

    @Test func findsAMissingIndex() throws {
        let result = try damaged { repository in
            let folder = repository.root.appendingPathComponent("public/dists/staging/main/binary-amd64")
                .resolvingSymlinksInPath()
            try FileManager.default.removeItem(at: folder.appendingPathComponent("Packages.xz"))
        }
        #expect(result.status != 0)
        #expect(
            result.standardError.contains("main/binary-amd64/Packages.xz: missing, but Release lists it"),
            "\(result.standardError)")
    }

    @Test func findsABadSignature() throws {
        let result = try damaged { repository in
            let inRelease = repository.root.appendingPathComponent("public/dists/staging/InRelease")
                .resolvingSymlinksInPath()
            var text = try String(contentsOf: inRelease, encoding: .utf8)
            text = text.replacingOccurrences(of: "Suite: staging", with: "Suite: stoging")
            try text.write(to: inRelease, atomically: false, encoding: .utf8)
        }
        #expect(result.status != 0)
        #expect(result.standardError.contains("staging/InRelease: bad signature"), "\(result.standardError)")
    }
}
