import DebianFormat
import DepotTestSupport
import Foundation
import Testing

@Suite struct Deb822Tests {
    @Test func parsesParagraphsFieldsAndContinuationLines() throws {
        let text = """
            Package: snowbird
            Version: 1.4.2-1
            Description: a fast client
             It does things.
             .
             More things.

            Package: libsnow1
            Version: 1.0~rc1-1

            """
        let document = try Deb822Document(parsing: text)
        #expect(document.paragraphs.count == 2)
        let first = document.paragraphs[0]
        #expect(first["Package"] == "snowbird")
        #expect(first["description"] == "a fast client\n It does things.\n .\n More things.")
        #expect(first.field(named: "DESCRIPTION")?.lines == ["a fast client", "It does things.", "", "More things."])
        #expect(document.paragraphs[1]["version"] == "1.0~rc1-1")
        #expect(first["Missing"] == nil)
    }

    @Test func fieldNamesKeepTheirSpellingWhileLookupsIgnoreCase() throws {
        var paragraph = try Deb822Document(parsing: "PACKAGE: a\nversion: 1\n").paragraphs[0]
        paragraph["Package"] = "b"
        paragraph["Architecture"] = "all"
        #expect(paragraph.rendered() == "PACKAGE: b\nversion: 1\nArchitecture: all\n")
        paragraph["VERSION"] = nil
        #expect(paragraph.rendered() == "PACKAGE: b\nArchitecture: all\n")
    }

    @Test func multilineValuesEncodeEmptyLinesAsADot() {
        let value = Deb822Field.multilineValue(["synopsis", "first", "", "second"])
        #expect(value == "synopsis\n first\n .\n second")
        let paragraph = Deb822Paragraph(["Description": value])
        #expect(paragraph.rendered() == "Description: synopsis\n first\n .\n second\n")
    }

    @Test func writesWhatItParsedByteForByte() throws {
        let samples = [
            "A: 1\n",
            "A:1\nB:  two  \n\n\n\nC:\n line\n",
            "A: x\n \tindented\n",
            "A: no final newline",
            "\n\nA: leading blank lines\n\n  \t\nB: whitespace-only separator\n\n",
            "A: trailing spaces on continuation   \n more  \n",
            "Empty:\nB: 2\n",
            "Empty: \n",
        ]
        for sample in samples {
            let document = try Deb822Document(parsing: sample)
            #expect(document.rendered() == sample, "round trip of \(sample.debugDescription)")
        }
    }

    @Test func commentsRoundTripWhereTheFormatAllowsThem() throws {
        let text = """
            # depot.conf
            Origin: Example # not a comment

            # staging comes next
            Distribution: staging
            # kept with the field below
            Promotes-To: production
            # at the end of the paragraph

            # trailing

            """
        let document = try Deb822Document(parsing: text, allowComments: true)
        #expect(document.paragraphs.count == 2)
        #expect(document.paragraphs[0]["Origin"] == "Example # not a comment")
        #expect(document.paragraphs[1]["Promotes-To"] == "production")
        #expect(document.rendered() == text)
        #expect(throws: Deb822Error(line: 1, problem: .commentNotAllowed)) {
            try Deb822Document(parsing: text)
        }
    }

    @Test func builtDocumentsSeparateParagraphsWithOneBlankLine() {
        let document = Deb822Document([
            Deb822Paragraph(["Package": "a", "Version": "1"]),
            Deb822Paragraph(["Package": "b", "Version": "2"]),
        ])
        #expect(document.rendered() == "Package: a\nVersion: 1\n\nPackage: b\nVersion: 2\n")
    }

    @Test(arguments: [
        ("A: 1\n continued\nno colon here\n", Deb822Error(line: 3, problem: .missingColon)),
        (" starts with a continuation\n", Deb822Error(line: 1, problem: .continuationLineWithoutField)),
        ("A: 1\n\n continuation after a blank line\n", Deb822Error(line: 3, problem: .continuationLineWithoutField)),
        ("A: 1\nB: 2\na: 3\n", Deb822Error(line: 3, problem: .duplicateField("a", firstSeenOnLine: 1))),
        (": no name\n", Deb822Error(line: 1, problem: .emptyFieldName)),
        ("Bad Name: x\n", Deb822Error(line: 1, problem: .invalidFieldName("Bad Name"))),
        ("-Dash: x\n", Deb822Error(line: 1, problem: .invalidFieldName("-Dash"))),
    ])
    func reportsSyntaxErrorsWithTheirLine(text: String, expected: Deb822Error) {
        #expect(throws: expected) { try Deb822Document(parsing: text) }
    }

    @Test func errorsReadAsOneSentenceWithTheLine() {
        let error = Deb822Error(line: 7, problem: .duplicateField("Version", firstSeenOnLine: 2))
        #expect(error.description == "line 7: field 'Version' appears twice in one paragraph (first on line 2)")
    }

    @Test func refusesInvalidUTF8() {
        let bytes: [UInt8] = Array("A: ".utf8) + [0xFF, 0xFE] + [0x0A]
        #expect(throws: Deb822Error(line: 1, problem: .invalidUTF8)) { try Deb822Document(parsing: bytes) }
    }

    /// A NUL cut the stanza short where it was stored, and apt read the rest into the next
    /// package's stanza.
    @Test func refusesControlCharactersNamingTheLine() {
        let cases: [(String, Deb822Error)] = [
            ("A: x\u{0}\n", Deb822Error(line: 1, problem: .controlCharacter(0x00))),
            ("A: x\nB: y\u{1B}]0;title\u{07}\n", Deb822Error(line: 2, problem: .controlCharacter(0x1B))),
            ("A: x\n more\u{0C}\n", Deb822Error(line: 2, problem: .controlCharacter(0x0C))),
            ("A: x\n more\n and\u{7F}\n", Deb822Error(line: 3, problem: .controlCharacter(0x7F))),
            ("A: x\rB: y\n", Deb822Error(line: 1, problem: .controlCharacter(0x0D))),
            ("A: x\r\nB: y\r\n", Deb822Error(line: 1, problem: .carriageReturnLineEnding)),
        ]
        for (text, expected) in cases {
            #expect(throws: expected, "\(text.debugDescription)") { try Deb822Document(parsing: Array(text.utf8)) }
        }
        #expect(
            Deb822Error(line: 4, problem: .controlCharacter(0)).description
                == "line 4: a control character (NUL, 0x00), which deb822 text cannot carry")
        // A tab is text.
        #expect((try? Deb822Document(parsing: "A: x\ty\n\tz\n")) != nil)
    }

    /// What would not read back as the same field is refused where it would be written.
    @Test func fieldsThatCannotBeWrittenBackAreRefused() throws {
        let unrepresentable = [
            Deb822Field(name: "Description", value: "x\u{0}"),
            Deb822Field(name: "Description", value: "x\n\nPackage: y"),
            Deb822Field(name: "Description", value: "x\nPackage: y"),
            Deb822Field(name: "Description", value: "x\n  \n z"),
            Deb822Field(name: "Description", value: " x"), Deb822Field(name: "Description", value: "x "),
            Deb822Field(name: "Description", value: "x\n"), Deb822Field(name: "Bad Name", value: "x"),
            Deb822Field(name: "", value: "x"), Deb822Field(name: "-x", value: "x"),
            Deb822Field(name: "A:B", value: "x"),
        ]
        for field in unrepresentable {
            #expect(throws: UnrepresentableField.self, "\(field)") { try field.checkRepresentable() }
        }
        for field in [
            Deb822Field(name: "Description", value: "x\n y\n .\n\tz"), Deb822Field(name: "Files", value: "\n a b c"),
            Deb822Field(name: "Empty", value: ""),
        ] {
            try field.checkRepresentable()
            let parsed = try Deb822Document(parsing: Deb822Paragraph([field]).rendered())
            #expect(parsed.paragraphs.first?.fields.first?.value == field.value)
        }
    }

    @Test(
        .enabled(if: TestSupport.debianIndexPath != nil, "no Debian index in /var/lib/apt/lists (run apt-get update)"))
    func debiansOwnIndexRoundTripsByteForByte() throws {
        let index = try #require(try TestSupport.debianIndex())
        let document = try Deb822Document(parsing: [UInt8](index))
        #expect(document.paragraphs.count > 1000)
        #expect(document.paragraphs.allSatisfy { $0["Package"] != nil && $0["Version"] != nil })
        for paragraph in document.paragraphs {
            for field in paragraph.fields { try field.checkRepresentable() }
        }
        let rendered = document.rendered()
        #expect(rendered.utf8.count == index.count)
        #expect(Data(rendered.utf8) == index)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/var/lib/dpkg/status"), "no /var/lib/dpkg/status"))
    func dpkgStatusRoundTripsByteForByte() throws {
        let status = try #require(FileManager.default.contents(atPath: "/var/lib/dpkg/status"))
        let document = try Deb822Document(parsing: [UInt8](status))
        #expect(document.paragraphs.count > 10)
        #expect(Data(document.rendered().utf8) == status)
    }
}
