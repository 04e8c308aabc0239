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
