/// A syntax error in deb822 text, with the 1-based line it was found on.
public struct Deb822Error: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Problem: Sendable, Hashable {
        case continuationLineWithoutField
        case missingColon
        case emptyFieldName
        case invalidFieldName(String)
        case duplicateField(String, firstSeenOnLine: Int)
        case commentNotAllowed
        case invalidUTF8
        /// A C0 control character other than tab, or DEL: deb822 cannot carry it (a NUL cuts
        /// a stanza short for apt; a CR or a form feed reads differently in every tool).
        case controlCharacter(UInt8)
        /// A line ending in CR LF, as files edited on Windows have.
        case carriageReturnLineEnding
    }

    public var line: Int
    public var problem: Problem

    public init(line: Int, problem: Problem) {
        self.line = line
        self.problem = problem
    }

    public var description: String {
        "line \(line): " + problemDescription
    }

    /// The problem alone, without the line.
    public var problemDescription: String {
        switch problem {
        case .continuationLineWithoutField:
            "a continuation line (starting with a space) where a field should begin"
        case .missingColon:
            "expected 'Field: value', found a line without a colon"
        case .emptyFieldName:
            "a field with an empty name"
        case .invalidFieldName(let name):
            "invalid field name '\(name)' (names are printable ASCII without spaces or colons, not starting with '-' or '#')"
        case .duplicateField(let name, let first):
            "field '\(name)' appears twice in one paragraph (first on line \(first))"
        case .commentNotAllowed:
            "a comment line, which this file format does not allow"
        case .invalidUTF8:
            "the text is not valid UTF-8"
        case .controlCharacter(let byte):
            "a control character (\(Self.controlCharacterName(byte))), which deb822 text cannot carry"
        case .carriageReturnLineEnding:
            "the line ends in CR LF (a file saved with Windows line endings); deb822 lines end in LF alone"
        }
    }

    /// How a control character is usually written: `NUL (0x00)`, `ESC (0x1B)`.
    static func controlCharacterName(_ byte: UInt8) -> String {
        let names: [UInt8: String] = [
            0x00: "NUL", 0x07: "BEL", 0x08: "BS", 0x0B: "VT", 0x0C: "FF", 0x0D: "CR", 0x1B: "ESC", 0x7F: "DEL",
        ]
        let hex = String(byte, radix: 16, uppercase: true)
        let code = "0x" + (hex.count == 1 ? "0" + hex : hex)
        return names[byte].map { "\($0), \(code)" } ?? code
    }
}

/// Whether deb822 text can hold this byte: every byte but the C0 controls other than tab and
/// line feed, and DEL.
func isDeb822TextByte(_ byte: UInt8) -> Bool {
    byte >= 0x20 ? byte != 0x7F : byte == 0x09 || byte == 0x0A
}

/// A field that cannot be written as deb822 text that reads back as the same field.
public struct UnrepresentableField: Error, Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var reason: String

    public var description: String {
        "field '\(name)' cannot be written as deb822: \(reason)"
    }
}
