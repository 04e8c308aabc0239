import DepotCore
import DepotTestSupport
import Foundation
import Testing

/// The published indices byte for byte: every fixture package pushed into a fresh repository
/// makes exactly the `Packages` and `Release` files kept in `Fixtures/golden/`. A change to how
/// a stanza or a Release is written shows here as a diff to read, not as an apt failure later.
///
/// When a change to the output is meant, re-record the files and review the diff before
/// committing it: `DEPOT_RECORD_GOLDEN=1 swift test --filter GoldenFileTests`
/// (`Fixtures/golden/README.md`).
@Suite struct GoldenFileTests {
    static let folder = TestSupport.packageRoot.appendingPathComponent("Fixtures/golden")
    static var recording: Bool { ProcessInfo.processInfo.environment["DEPOT_RECORD_GOLDEN"] == "1" }

    @Test func theFixturesPublishTheGoldenIndices() throws {
        let scratch = try ScratchStore(postgres: nil)
        defer { scratch.remove() }
        let packages = TestSupport.fixtures(in: "good") + TestSupport.fixtures(in: "real")
        _ = try scratch.repository.push(
            packages, as: PushRequest(distribution: "development"),
            context: try OperationContext(user: "ci", command: "golden"))
        let published = URL(fileURLWithPath: scratch.repository.publicDirectory + "/dists/development")
        for (path, golden) in [
            ("main/binary-amd64/Packages", "development-amd64-Packages"),
            ("main/binary-arm64/Packages", "development-arm64-Packages"),
            ("Release", "development-Release"),
        ] {
            let made = Self.withoutDate(try String(contentsOf: published.appendingPathComponent(path), encoding: .utf8))
            let file = Self.folder.appendingPathComponent(golden)
            if Self.recording {
                try made.write(to: file, atomically: true, encoding: .utf8)
                continue
            }
            let expected = try String(contentsOf: file, encoding: .utf8)
            #expect(made == expected, "\(path) differs from Fixtures/golden/\(golden):\n\(Self.difference(made, expected))")
        }
    }

    /// A Release with its `Date:` (the time of publishing) written as `Date: (when published)`.
    static func withoutDate(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("Date: ") ? "Date: (when published)" : String($0) }
            .joined(separator: "\n")
    }

    /// The first line where two texts part, with its number.
    static func difference(_ made: String, _ expected: String) -> String {
        let (a, b) = (made.split(separator: "\n", omittingEmptySubsequences: false), expected.split(separator: "\n", omittingEmptySubsequences: false))
        for index in 0..<max(a.count, b.count) where index >= a.count || index >= b.count || a[index] != b[index] {
            return "line \(index + 1): made '\(index < a.count ? a[index] : "(end)")', golden '\(index < b.count ? b[index] : "(end)")'"
        }
        return "(no line differs)"
    }
}
