import DebianFormat
import DepotTestSupport
import Foundation
import Testing

@Suite struct DebFileTests {
    @Test(arguments: TestSupport.fixtures(in: "good") + TestSupport.fixtures(in: "real"))
    func readsEveryFixtureAndAgreesWithDpkgDebAndCoreutils(path: String) throws {
        let deb = try DebFile.read(path: path)

        let fields = try TestSupport.run("dpkg-deb", ["--field", path, "Package", "Version", "Architecture"]).text
        #expect(fields == "Package: \(deb.package)\nVersion: \(deb.version)\nArchitecture: \(deb.architecture)\n")
        let control = try TestSupport.run("dpkg-deb", ["--info", path, "control"]).text
        #expect(deb.control.rendered() == control)

        for (tool, digest) in [
            ("md5sum", deb.checksums.md5), ("sha1sum", deb.checksums.sha1),
            ("sha256sum", deb.checksums.sha256), ("sha512sum", deb.checksums.sha512),
        ] {
            let output = try TestSupport.run(tool, [path]).text
            #expect(output.split(separator: " ").first.map(String.init) == digest, "\(tool) of \(path)")
        }
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
        #expect(deb.checksums.size == Int64(size ?? -1))
    }

    @Test func readsEveryCompressionOfTheControlArchive() throws {
        let members = try TestSupport.fixtures(in: "good").map { try DebFile.read(path: $0).controlMemberName }
        #expect(Set(members) == ["control.tar", "control.tar.gz", "control.tar.xz", "control.tar.zst"])
        let dataMembers = try TestSupport.fixtures(in: "good").map { try DebFile.read(path: $0).dataMemberName }
        #expect(Set(dataMembers) == ["data.tar", "data.tar.gz", "data.tar.xz", "data.tar.zst", "data.tar.bz2"])
    }

    @Test func knowsTheSourcePackageAndTheVersionParts() throws {
        let snowbird = try DebFile.read(path: TestSupport.fixture("good/snowbird_1.4.2-1_amd64.deb"))
        #expect(snowbird.source == "snowbird-src")
        let depends = try RelationshipList(parsing: try #require(snowbird.control["Depends"]))
        #expect(
            depends.requirements.map { $0.map(\.package) } == [["libsnow1"], ["hello-depot", "hello"], ["python3"]])

        let epochal = try DebFile.read(path: TestSupport.fixture("good/epochal_3.1-1_amd64.deb"))
        #expect(epochal.version.epoch == 2 && epochal.version.withoutEpoch == "3.1-1")
        #expect(epochal.source == "epochal")

        let library = try DebFile.read(path: TestSupport.fixture("good/libsnow1_1.0~rc1-1_amd64.deb"))
        #expect(library.version < (try DebianVersion("1.0")))

        let all = try DebFile.read(path: TestSupport.fixture("good/hello-depot_1.0-1_all.deb"))
        #expect(all.architecture == "all")
        #expect(all.control.field(named: "Description")?.lines.count == 4)
    }

    @Test func readingFromMemoryMatchesReadingTheFile() throws {
        let path = TestSupport.fixture("real/hello_2.10-3_amd64.deb")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let fromMemory = try DebFile.read(bytes: bytes, name: "upload")
        let fromFile = try DebFile.read(path: path)
        #expect(fromMemory.checksums == fromFile.checksums)
        #expect(fromMemory.control == fromFile.control)
    }

    @Test(arguments: [
        ("empty.deb", DebFileError.Problem.empty),
        ("random-bytes.deb", .notAnArArchive),
        ("truncated.deb", .truncated(member: "control.tar.gz", expected: 0, found: 0)),
        ("not-a-deb.deb", .notADebianPackage(firstMember: "notes.txt")),
        ("wrong-debian-binary.deb", .unsupportedFormatVersion("3.0")),
        ("no-control-member.deb", .missingControlArchive(found: "data.tar.gz")),
        ("no-data-member.deb", .missingDataArchive(found: nil)),
        ("unknown-compression.deb", .unknownCompression(member: "control.tar.lz4")),
        ("control-bzip2.deb", .unknownCompression(member: "control.tar.bz2")),
        ("compression-mismatch.deb", .compressionMismatch(member: "control.tar.xz", detected: "gzip-compressed")),
        (
            "duplicate-field.deb",
            .controlSyntax(Deb822Error(line: 4, problem: .duplicateField("Version", firstSeenOnLine: 2)))
        ),
        ("missing-package.deb", .missingField("Package")),
        ("missing-version.deb", .missingField("Version")),
        ("missing-architecture.deb", .missingField("Architecture")),
        (
            "invalid-name-case.deb",
            .invalidValue(InvalidFieldValue(kind: "package name", value: "Upper_Case", reason: ""))
        ),
        ("invalid-name-path.deb", .invalidValue(InvalidFieldValue(kind: "package name", value: "../x", reason: ""))),
        (
            "invalid-source-path.deb",
            .invalidValue(InvalidFieldValue(kind: "package name", value: "../../etc", reason: ""))
        ),
        ("invalid-version.deb", .invalidValue(InvalidFieldValue(kind: "version", value: "1.0:a", reason: ""))),
        ("oversized-control.deb", .controlFileTooLarge(limit: 1 << 20)),
        ("decompression-bomb.deb", .controlArchiveExpandsTooMuch(member: "control.tar.xz", limit: 64 << 20)),
    ])
    func refusesBadInputWithAnErrorNamingTheFile(name: String, expected: DebFileError.Problem) {
        let path = TestSupport.fixture("bad/" + name)
        do {
            let deb = try DebFile.read(path: path)
            Issue.record("\(name) was accepted as \(deb.package) \(deb.version)")
        } catch {
            #expect(error.file == path)
            #expect(error.description.hasPrefix(path + ": "))
            #expect(matches(error.problem, expected), "\(name): \(error)")
        }
    }

    @Test func refusesWhatIsNotARegularReadableFile() throws {
        let directory = try TestSupport.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: DebFileError(file: directory.path, problem: .notARegularFile)) {
            try DebFile.read(path: directory.path)
        }
        let missing = directory.appendingPathComponent("missing.deb").path
        #expect(throws: DebFileError(file: missing, problem: .unreadable("No such file or directory"))) {
            try DebFile.read(path: missing)
        }
    }

    /// Control files dpkg-deb would not build: each refused, naming the file and the field.
    @Test func refusesControlFilesAptCouldNotParse() {
        let head = "Package: victii\nVersion: 1.0\nArchitecture: amd64\nMaintainer: M <m@example.org>\n"
        let cases: [(String, String)] = [
            ("Description: x\u{0}\n", "control character (NUL, 0x00)"),
            ("Depends: epo (>= 9\nDescription: x\n", "invalid Depends field 'epo (>= 9'"),
            ("Depends: epo (>= 9), ,, | zz, $$$\nDescription: x\n", "invalid Depends field"),
            ("Pre-Depends: aa [amd64]\nDescription: x\n", "invalid Pre-Depends field"),
            ("Conflicts: aa | bb\nDescription: x\n", "invalid Conflicts field"),
            ("Provides: aa (>= 1)\nDescription: x\n", "invalid Provides field"),
            ("Essential: maybe\nDescription: x\n", "invalid Essential field 'maybe'"),
            ("Multi-Arch: sometimes\nDescription: x\n", "invalid Multi-Arch field"),
            ("Installed-Size: 12k\nDescription: x\n", "invalid Installed-Size field"),
            ("Description-md5: 8e537bb8a99f6ea999f43bf42d37d38\nDescription: x\n", "invalid Description-md5 field"),
            ("Description: x\n\tlong\n", "invalid Description field"),
            ("Description:\n long\n", "the synopsis, is empty"),
            ("Multi-Arch: Same\nDescription: x\n", "invalid Multi-Arch"),
            ("Important: maybe\nDescription: x\n", "invalid Important field"),
            ("Phased-Update-Percentage: 50\nDescription: x\n", "the archive phases an update"),
            ("Suggests: gccgo-12-docflicts: golang-go (<< 2:1.3.3-1)\nDescription: x\n", "invalid Suggests field"),
        ]
        for (tail, message) in cases {
            let bytes = DebAssembler.package(control: Array((head + tail).utf8))
            do {
                let deb = try DebFile.read(bytes: bytes, name: "victii.deb")
                Issue.record("\(tail.debugDescription) was accepted as \(deb.package)")
            } catch {
                #expect(error.description.hasPrefix("victii.deb: control file"), "\(error)")
                #expect(error.description.contains(message), "\(error)")
            }
        }
        let clean = DebAssembler.package(
            control: Array((head + "Essential: yes\nMulti-Arch: same\nInstalled-Size: 12\nDescription: x\n").utf8))
        #expect((try? DebFile.read(bytes: clean, name: "clean.deb")) != nil)
    }

    /// The rules hold no package Debian ships to a standard it does not meet.
    @Test(
        .enabled(if: TestSupport.debianIndexPath != nil, "no Debian index in /var/lib/apt/lists (run apt-get update)"))
    func everyStanzaOfDebiansIndexPassesTheFieldChecks() throws {
        let index = try #require(try TestSupport.debianIndex())
        let document = try Deb822Document(parsing: [UInt8](index))
        for paragraph in document.paragraphs {
            #expect(throws: Never.self, "\(paragraph["Package"] ?? "?")") {
                try DebFile.checkFieldsAptParses(of: paragraph)
            }
        }
    }

    @Test func errorMessagesSayWhatIsWrong() throws {
        let error = DebFileError(file: "x.deb", problem: .truncated(member: "data.tar.xz", expected: 100, found: 40))
        #expect(
            error.description
                == "x.deb: the file is truncated: member 'data.tar.xz' should hold 100 bytes but only 40 remain")
    }

    /// Compares problems by kind, and by the values that matter for the user.
    private func matches(_ problem: DebFileError.Problem, _ expected: DebFileError.Problem) -> Bool {
        switch (problem, expected) {
        case (.truncated(let member, _, let found), .truncated(let expectedMember, _, _)):
            return member == expectedMember && found >= 0
        case (.invalidValue(let error), .invalidValue(let expectedError)):
            return error.kind == expectedError.kind && error.value == expectedError.value && !error.reason.isEmpty
        default:
            return problem == expected
        }
    }
}
