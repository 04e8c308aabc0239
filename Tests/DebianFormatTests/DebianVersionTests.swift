import DebianFormat
import DepotTestSupport
import Foundation
import Testing

@Suite struct DebianVersionTests {
    @Test func splitsEpochUpstreamAndRevision() throws {
        let version = try DebianVersion("2:1.0-rc1-3ubuntu1")
        #expect(version.epoch == 2)
        #expect(version.upstream == "1.0-rc1")
        #expect(version.revision == "3ubuntu1")
        #expect(version.withoutEpoch == "1.0-rc1-3ubuntu1")
        #expect(version.description == "2:1.0-rc1-3ubuntu1")

        let plain = try DebianVersion("1.0~rc1")
        #expect(plain.epoch == 0 && plain.upstream == "1.0~rc1" && plain.revision == "")
        #expect(try DebianVersion("1:2:3").upstream == "2:3")
    }

    /// Each pair is (lower, higher) or, with `equal`, the same version spelled twice.
    @Test(arguments: [
        ("1.0~rc1", "1.0"), ("1.0~~", "1.0~"), ("1.0~", "1.0"), ("1.0", "1.0a"), ("1.0a", "1.0+"),
        ("2.0", "1:0.1"), ("1.0", "1.0-1"), ("1.0-1", "1.0-2"), ("1.0-9", "1.0-10"),
        ("1.2", "1.10"), ("1.0", "1.0.1"), ("0", "0.0"), ("1.0-1", "1.0+1-1"), ("1.0", "1.0.0~0"),
        ("9", "10"), ("1a", "1b"), ("1Z", "1a"), ("1.0.", "1.0.a"), ("0.9.9", "1:0.1"),
    ])
    func ordersLikeDpkg(lower: String, higher: String) throws {
        let a = try DebianVersion(lower)
        let b = try DebianVersion(higher)
        #expect(a < b)
        #expect(!(b < a))
        #expect(DebianVersion.compare(a, b) < 0 && DebianVersion.compare(b, a) > 0)
    }

    @Test(arguments: [("1.0", "1.00"), ("1.0", "0:1.0"), ("1.0", "1.0-0"), ("1.01", "1.1"), ("1a", "1a0")])
    func equalVersionsAreEqualAndHashAlike(lhs: String, rhs: String) throws {
        let a = try DebianVersion(lhs)
        let b = try DebianVersion(rhs)
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(Set([a, b]).count == 1)
    }

    @Test(arguments: [
        ("", "the version is empty"),
        ("1.0:a", "the epoch before ':' is not a number"),
        (":1.0", "the epoch before ':' is empty"),
        ("99999999999:1", "the epoch is too big"),
        ("1.0-", "the revision after the last '-' is empty"),
        ("-1", "the upstream version is empty"),
        ("a1.0", "the upstream version must start with a digit"),
        ("1.0 1", "a version contains no spaces"),
        ("1.0_1", "'_' is not allowed in the upstream version"),
        ("1.0-1:2", "the epoch before ':' is not a number"),
        ("1.0-a_b", "'_' is not allowed in the revision"),
    ])
    func rejectsWhatPolicyForbids(text: String, reason: String) {
        #expect(throws: InvalidFieldValue(kind: "version", value: text, reason: reason)) {
            try DebianVersion(text)
        }
    }

    /// Draws 10,000 pairs from the versions in Debian's index (neighbours in sorted order,
    /// which share long prefixes, and random pairs), and compares every verdict with
    /// `dpkg --compare-versions`.
    @Test(
        .enabled(if: TestSupport.debianIndexPath != nil, "no Debian index in /var/lib/apt/lists (run apt-get update)"),
        .enabled(if: TestSupport.hasProgram("dpkg"), "dpkg is not installed"))
    func agreesWithDpkgOnTenThousandRealPairs() throws {
        let index = try #require(try TestSupport.debianIndex())
        let document = try Deb822Document(parsing: [UInt8](index))
        let texts = Set(document.paragraphs.compactMap { $0["Version"] }).sorted()
        let versions = try texts.map { try DebianVersion($0) }
        #expect(versions.count > 1000)

        var generator = SeededGenerator(seed: 0x6465_706f_74)
        var pairs: [(DebianVersion, DebianVersion)] = []
        for _ in 0..<5_000 {
            let i = Int.random(in: 0..<(versions.count - 1), using: &generator)
            pairs.append((versions[i], versions[i + 1]))
            pairs.append((versions[i], versions[Int.random(in: 0..<versions.count, using: &generator)]))
        }
        let handWritten = [("1.0~rc1", "1.0"), ("1:0.1", "2.0"), ("1.0-1", "1.0"), ("0", "0.0"), ("1.0", "1.00")]
        for (a, b) in handWritten { pairs.append((try DebianVersion(a), try DebianVersion(b))) }

        let verdicts = try dpkgVerdicts(pairs.map { ($0.0.description, $0.1.description) })
        #expect(verdicts.count == pairs.count)
        var disagreements: [String] = []
        for ((a, b), verdict) in zip(pairs, verdicts) {
            let ours = DebianVersion.compare(a, b)
            let mine = ours < 0 ? "<" : ours == 0 ? "=" : ">"
            if mine != verdict { disagreements.append("\(a) vs \(b): dpkg says \(verdict), Depot says \(mine)") }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10))")
    }

    /// Asks dpkg about every pair, in two shell loops running side by side.
    private func dpkgVerdicts(_ pairs: [(String, String)]) throws -> [String] {
        let script = """
            while read -r a b; do
              if dpkg --compare-versions "$a" lt "$b"; then echo '<'
              elif dpkg --compare-versions "$a" eq "$b"; then echo '='
              else echo '>'; fi
            done
            """
        let half = pairs.count / 2
        let halves = [Array(pairs[..<half]), Array(pairs[half...])]
        let collected = Collected()
        DispatchQueue.concurrentPerform(iterations: 2) { part in
            let input = halves[part].map { "\($0.0) \($0.1)\n" }.joined()
            let outcome = Result {
                try TestSupport.run("sh", ["-c", script], input: Data(input.utf8)).text.split(separator: "\n").map(
                    String.init)
            }
            collected.store(outcome, at: part)
        }
        return try collected.results(count: 2).flatMap { try $0.get() }
    }
}

/// Results that concurrent workers hand back, each under its own index.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var outcomes: [Int: Result<[String], any Error>] = [:]

    func store(_ outcome: Result<[String], any Error>, at index: Int) {
        lock.withLock { outcomes[index] = outcome }
    }

    func results(count: Int) -> [Result<[String], any Error>] {
        lock.withLock { (0..<count).map { outcomes[$0] ?? .success([]) } }
    }
}
