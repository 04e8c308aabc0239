import DebianFormat
import DepotCore
import DepotTestSupport
import Foundation
import Testing

/// What a distribution lists, as `NAME VERSION ARCH` lines: two equal sets mean the same
/// listings.
func listed(_ repository: ScratchRepository, _ distribution: String) throws -> Set<String> {
    Set(try repository.listings(distribution).map { "\($0.file.name) \($0.file.version) \($0.file.architecture)" })
}

extension ScratchRepository {
    /// `depot list DIST --json`, read into the library's own type: a field the output
    /// lost or renamed fails here.
    func listings(_ distribution: String) throws -> [Listing] {
        try decode([Listing].self, from: ["list", distribution, "--json"])
    }

    /// `depot history [DIST] --json [--limit N]`, newest first, read into the library's own type.
    func history(_ distribution: String? = nil, limit: Int? = nil) throws -> [HistoryEntry] {
        try decode(
            [HistoryEntry].self,
            from: ["history"] + (distribution.map { [$0] } ?? []) + ["--json"] + (limit.map { ["--limit", "\($0)"] } ?? []))
    }

    /// The published `Packages` of a distribution's `main` for one architecture, parsed as
    /// Debian's control format, by package name.
    func packagesIndex(_ distribution: String, architecture: String = "amd64") throws -> [String: Deb822Paragraph] {
        let document = try Deb822Document(parsing: packagesText(distribution, architecture: architecture))
        return Dictionary(uniqueKeysWithValues: document.paragraphs.map { ($0["Package"] ?? "", $0) })
    }

    /// The published `Packages` of a distribution's `main` for one architecture, as text.
    func packagesText(_ distribution: String, architecture: String = "amd64") throws -> String {
        try String(
            contentsOfFile: publicDirectory + "/dists/\(distribution)/main/binary-\(architecture)/Packages",
            encoding: .utf8)
    }

    private func decode<T: Decodable>(_ type: T.Type, from arguments: [String]) throws -> T {
        let result = try depot(arguments)
        guard result.status == 0 else {
            throw TestSupportError("depot \(arguments.joined(separator: " ")) failed: \(result.standardError)")
        }
        return try JSONDecoder().decode(type, from: result.standardOutput)
    }
}

/// Builds packages for a test and deletes them afterwards.
final class PackageBuilder {
    private var built: [String] = []

    func make(_ name: String, _ version: String, architecture: String = "amd64", extra: [String] = []) throws
        -> String
    {
        built.append(try build(name, version: version, architecture: architecture, extra: extra))
        return built.last!
    }

    deinit { for path in built { try? FileManager.default.removeItem(atPath: path) } }
}

/// Runs each command, expecting it to fail with one `depot: error:` line containing the
/// message, and the repository to stay exactly as it was.
func expectRefusals(
    _ repository: ScratchRepository, _ cases: [([String], String)], sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let before = try repository.snapshot()
    for (arguments, message) in cases {
        let result = try repository.depot(arguments)
        #expect(result.status != 0, "\(arguments)", sourceLocation: sourceLocation)
        #expect(
            result.standardError.hasPrefix("depot: error: ") && result.standardError.contains(message),
            "\(result.standardError)", sourceLocation: sourceLocation)
        #expect(
            try repository.snapshot() == before, "\(arguments) changed the repository", sourceLocation: sourceLocation)
    }
}

extension ScratchRepository {
    /// Changes `depot.conf` by replacing a piece of its text.
    func editConfiguration(replacing text: String, with replacement: String) throws {
        let path = root.appendingPathComponent("depot.conf")
        let configuration = try String(contentsOf: path, encoding: .utf8)
        guard configuration.contains(text) else { throw TestSupportError("depot.conf has no '\(text)'") }
        try configuration.replacingOccurrences(of: text, with: replacement).write(
            to: path, atomically: true, encoding: .utf8)
    }

    /// Makes an API token with these scopes and returns it.
    func createToken(_ name: String, allowing scopes: [String]) throws -> String {
        let result = try depot(["token", "create", name] + scopes.flatMap { ["--allow", $0] })
        guard result.status == 0 else { throw TestSupportError("depot token create failed: \(result.standardError)") }
        return result.text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// `apt-get update` in a loop for each distribution until `stop`; what failed, in `failures`.
func updateLoops(_ clients: [AptClient], failures: Failures, stop: Failures) -> DispatchGroup {
    let group = DispatchGroup()
    for client in clients {
        DispatchQueue.global().async(group: group) {
            while stop.all.isEmpty {
                guard let update = try? client.run(["update"]) else { continue }
                let messages = update.text + update.standardError
                if update.status != 0 || messages.contains("W:") || messages.contains("E:") {
                    failures.add(messages)
                }
            }
        }
    }
    return group
}
