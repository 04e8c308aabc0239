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
        }
    }
}
