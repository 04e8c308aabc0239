import AptRepository
import DebianFormat
import DepotTestSupport
import Foundation
import Testing

/// The whole path from a control file to apt, fuzzed: control files made by mutating real
/// stanzas (Debian's index and the fixtures) with random bytes, separators, field lines and
/// relationship syntax. For every one Depot accepts, Depot must parse its own `Packages` back
/// to exactly the accepted fields, and the real apt must parse the published index and show
/// those fields for that package and no other.
///
/// The suite runs a few hundred cases; `DEPOT_FUZZ_CASES=50000 swift test --filter
/// ControlFuzzTests` runs more, and `DEPOT_FUZZ_SEED=N` draws others. The seed is fixed
/// otherwise, so a failure can be replayed.
@Suite struct ControlFuzzTests {
    static let caseCount = ProcessInfo.processInfo.environment["DEPOT_FUZZ_CASES"].flatMap(Int.init) ?? 400
    static let seed = ProcessInfo.processInfo.environment["DEPOT_FUZZ_SEED"].flatMap(UInt64.init) ?? 0x6675_7a7a

    /// What an index adds to a control file's fields.
    static let indexFields: Set<String> = ["filename", "size", "md5sum", "sha1", "sha256", "sha512"]

    /// Field lines to mutate, each set from one real stanza without its identity and index
    /// fields: the fixtures', and every 250th of Debian's index when apt has one here.
    static let seeds: [String] = {
        var paragraphs = (TestSupport.fixtures(in: "good") + TestSupport.fixtures(in: "real")).compactMap {
            try? DebFile.read(path: $0).control
        }
        if let index = try? TestSupport.debianIndex(), let document = try? Deb822Document(parsing: [UInt8](index)) {
            paragraphs += stride(from: 0, to: document.paragraphs.count, by: 250).map { document.paragraphs[$0] }
        }
        return paragraphs.map { paragraph in
            Deb822Paragraph(
                paragraph.fields.filter {
                    !["package", "version", "architecture"].contains($0.name.lowercased())
                        && !indexFields.contains($0.name.lowercased())
                }
            ).rendered()
        }
    }()

    static let alphabet: [UInt8] =
        [0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1B, 0x7F, 0xC3, 0xA9, 0xFF] + Array(" :,|()[]<>!=$.#-a9~+".utf8)

    static let trickyLines = [
        "Depends: a (>= 1", "Depends: a (>= 1), , b", "Depends: a | | b", "Depends: a,", "Depends:",
        "Breaks: a | b", "Provides: v (>= 1)", "Provides: v (= 1)", "Pre-Depends: x [amd64]", "Depends: y <!nocheck>",
        "Essential: maybe", "Essential: yes", "Multi-Arch: sometimes", "Multi-Arch: foreign", "Installed-Size: -1",
        "Filename: ../../x.deb", "Size: 1", "SHA256: 00", "MD5sum: x", "X-Custom: \u{1B}[31m",
        "Description: a\n \n b", "Description: a\n.\n", "Conflicts: z (<< 1)", "Recommends: q:any", "Recommends: q:Any",
        "Enhances: e (= 1:2)", " continuation", "#comment", "Package: other", "Built-Using: g (= 1)",
        "Depends: a (>= 1:)", "Depends: a (= ${binary:Version})", "Suggests: s (>>1.0)", "Replaces: r (<< 2~)",
        "Phased-Update-Percentage: 10", "Phased-Update-Percentage: abc", "Phased-Update-Percentage: 200",
        "Tag: a::b, c::d", "Important: maybe", "Important: yes", "Priority: weird", "Source: src (1.0 x)",
        "Source: src (1:)", "Protected: no", "Multi-Arch: Same", "Essential: Yes", "Size: abc", "Section: a b",
        "Depends: a (>= 1) | b:any (<< 2) [!amd64]", "Provides: v:any", "Depends: a:native (>= 1)",
    ]

    /// One to four edits of `text`, the lines of a control file after its identity.
    static func mutate(_ text: String, using generator: inout SeededGenerator) -> [UInt8] {
        var bytes = Array(text.utf8)
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            let index = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &generator)
            var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                .map(String.init)
            switch Int.random(in: 0..<6, using: &generator) {
            case 0 where !bytes.isEmpty:
                bytes[index] = alphabet.randomElement(using: &generator)!
            case 1:
                bytes.insert(alphabet.randomElement(using: &generator)!, at: index)
            case 2 where !bytes.isEmpty:
                bytes.removeSubrange(index..<min(bytes.count, index + Int.random(in: 1...8, using: &generator)))
            case 3:
                lines.insert(
                    trickyLines.randomElement(using: &generator)!,
                    at: Int.random(in: 0...max(0, lines.count - 1), using: &generator))
                bytes = Array(lines.joined(separator: "\n").utf8)
            case 4 where lines.count > 1:
                let line = Int.random(in: 0..<lines.count - 1, using: &generator)
                lines.insert(lines[line], at: line)
                bytes = Array(lines.joined(separator: "\n").utf8)
            default:
                guard lines.count > 2 else { continue }
                let a = Int.random(in: 0..<lines.count - 1, using: &generator)
                let b = Int.random(in: 0..<lines.count - 1, using: &generator)
                lines.swapAt(a, b)
                bytes = Array(lines.joined(separator: "\n").utf8)
            }
        }
        if bytes.last != 0x0A { bytes.append(0x0A) }
        return bytes
    }

    /// A package Depot accepted: its control fields and the stanza it renders for the index.
    struct Accepted {
        var name: String
        var package: [UInt8]
        var control: Deb822Paragraph
        var stanza: String
    }

    /// Generates `count` cases from a fixed seed; returns those Depot accepts, after
    /// checking that each stanza parses back to exactly its fields, alone and among the
    /// others.
    static func acceptedCases(_ count: Int) throws -> (accepted: [Accepted], refused: Int) {
        var generator = SeededGenerator(seed: seed)
        var accepted: [Accepted] = []
        var refused = 0
        for number in 0..<count {
            let name = "fuzz-\(number)"
            let control =
                Array("Package: \(name)\nVersion: 1.0-\(number)\nArchitecture: amd64\n".utf8)
                + mutate(seeds[number % seeds.count], using: &generator)
            let package = DebAssembler.package(control: control)
            guard let deb = try? DebFile.read(bytes: package, name: name) else {
                refused += 1
                continue
            }
            let poolPath = PoolPath.of(
                component: "main", source: deb.source, package: deb.package, version: deb.version,
                architecture: deb.architecture)
            guard
                let stanza = try? IndexStanza.render(control: deb.control, filename: poolPath, checksums: deb.checksums)
            else {
                refused += 1
                continue
            }
            let parsed = try Deb822Document(parsing: stanza)
            #expect(parsed.paragraphs.count == 1, "\(name): \(stanza.debugDescription)")
            let fields = parsed.paragraphs.first?.fields ?? []
            let expected = deb.control.fields.filter { !indexFields.contains($0.name.lowercased()) }
            #expect(
                fields.filter { !indexFields.contains($0.name.lowercased()) }.map { [$0.name, $0.value] }.sorted {
                    $0.lexicographicallyPrecedes($1)
                } == expected.map { [$0.name, $0.value] }.sorted { $0.lexicographicallyPrecedes($1) },
                "\(name): \(stanza.debugDescription)")
            #expect(
                parsed.paragraphs.first?["Filename"] == poolPath
                    && parsed.paragraphs.first?["SHA256"] == deb.checksums.sha256)
            accepted.append(Accepted(name: name, package: package, control: deb.control, stanza: stanza))
        }
        // Together, as in a Packages file: one paragraph each, in order.
        let index = try Deb822Document(parsing: accepted.map(\.stanza).joined(separator: "\n"))
        #expect(index.paragraphs.map { $0["Package"] } == accepted.map(\.name))
        return (accepted, refused)
    }

    @Test func depotReadsBackWhatItAcceptsAndAptAgrees() throws {
        let (accepted, refused) = try Self.acceptedCases(Self.caseCount)
        // Both sides of the border get exercised.
        #expect(accepted.count > Self.caseCount / 10 && refused > Self.caseCount / 10, "\(accepted.count) accepted")
        print("control fuzz: \(Self.caseCount) cases, \(accepted.count) accepted, \(refused) refused")

        let repository = try ScratchRepository(["--architectures", "amd64"])
        defer { repository.remove() }
        let folder = try TestSupport.makeTemporaryDirectory("fuzz")
        defer { try? FileManager.default.removeItem(at: folder) }
        var paths: [String] = []
        for package in accepted {
            let path = folder.appendingPathComponent(package.name + ".deb").path
            try Data(package.package).write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        let list = folder.appendingPathComponent("list").path
        try (paths.joined(separator: "\n") + "\n").write(toFile: list, atomically: true, encoding: .utf8)
        let pushed = try repository.depot(["push", "development", "--files-from", list])
        try #require(pushed.status == 0, "\(pushed.standardError)")
        #expect(try repository.depot(["verify"]).status == 0)

        // What Depot published, parsed by Depot: exactly the rendered stanzas.
        let published = try String(
            contentsOfFile: repository.publicDirectory + "/dists/development/main/binary-amd64/Packages",
            encoding: .utf8)
        let stanzas = Dictionary(uniqueKeysWithValues: accepted.map { ($0.name, $0.stanza) })
        let publishedParagraphs = try Deb822Document(parsing: published).paragraphs
        #expect(publishedParagraphs.count == accepted.count)
        for paragraph in publishedParagraphs {
            let name = paragraph["Package"] ?? ""
            #expect(stanzas[name] == paragraph.rendered(), "\(name)")
        }

        // What the real apt makes of it: the update succeeds without a warning, and each
        // package shows its own fields.
        let client = try AptClient(sources: [
            "deb [signed-by=\(repository.archiveKey)] file:\(repository.publicDirectory) development main"
        ])
        defer { client.remove() }
        let update = try client.run(["update"])
        #expect(update.status == 0, "\(update.standardError)")
        #expect(!update.standardError.contains("W:") && !update.standardError.contains("E:"), "\(update.standardError)")
        for batch in stride(from: 0, to: accepted.count, by: 200) {
            let names = accepted[batch..<min(accepted.count, batch + 200)].map(\.name)
            let shown = try client.run(["show"] + names, program: "apt-cache")
            #expect(shown.status == 0, "\(shown.standardError)")
            let records = try Deb822Document(parsing: shown.text).paragraphs
            #expect(records.count == names.count, "apt showed \(records.count) records for \(names.count) packages")
            for record in records {
                let name = record["Package"] ?? ""
                let expected = try Deb822Document(parsing: stanzas[name] ?? "").paragraphs.first?.fields ?? []
                // apt shows its own `Description-md5` and chooses which other fields named
                // `Description...` (translations) it shows: those are checked by apt-get
                // update parsing them.
                func comparable(_ fields: [Deb822Field]) -> Set<[String]> {
                    Set(
                        fields.filter {
                            let name = $0.name.lowercased()
                            return name == "description" || !name.hasPrefix("description")
                        }.map { [$0.name.lowercased(), $0.value] })
                }
                let shownFields = comparable(record.fields)
                let publishedFields = comparable(expected)
                #expect(
                    shownFields == publishedFields,
                    "\(name): apt shows \(shownFields.subtracting(publishedFields)), Depot published \(publishedFields.subtracting(shownFields))"
                )
            }
        }
    }
}
