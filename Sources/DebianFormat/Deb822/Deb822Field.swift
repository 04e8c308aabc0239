/// One field of a deb822 paragraph (deb822(5)): a name and its value.
///
/// The value is the logical value: the first line without its surrounding whitespace, then
/// each continuation line exactly as written (with its leading space, ` .` for an empty line),
/// joined by `"\n"`. A field parsed from text that was not in the canonical `Name: value`
/// spelling keeps that spelling, so writing it back gives the same bytes until the value is
/// changed.
public struct Deb822Field: Sendable, Hashable {
    /// The name as it was spelled; lookups ignore ASCII case.
    public var name: String
    public var value: String {
        didSet { verbatimValue = nil }
    }
    /// Comment lines (with their `#` and newlines) that preceded the field in the source.
    public var leadingComments: String

    /// The exact text between the colon and the end of the field's last line, kept only when
    /// it differs from the canonical rendering of `value`.
    var verbatimValue: String?

    public init(name: String, value: String) {
        self.name = name
        self.value = value
        self.leadingComments = ""
        self.verbatimValue = nil
    }

    init(name: String, value: String, leadingComments: String, verbatimValue: String?) {
        self.name = name
        self.value = value
        self.leadingComments = leadingComments
        self.verbatimValue = verbatimValue
    }

    /// The value's lines with the deb822 conventions undone: continuation lines lose their
    /// leading space, and a line of a single `.` becomes an empty line (deb822(5)).
    public var lines: [Substring] {
        let raw = value.split(separator: "\n", omittingEmptySubsequences: false)
        guard raw.count > 1 else { return raw }
        return [raw[0]]
            + raw.dropFirst().map { line in
                let content = line.dropFirst()
                return content == "." ? Substring("") : content
            }
    }

    /// Builds a multi-line value from plain lines: the first line stays as it is, later lines
    /// are indented by one space, empty ones become ` .`.
    public static func multilineValue<S: StringProtocol>(_ lines: [S]) -> String {
        guard let first = lines.first else { return "" }
        var value = String(first)
        for line in lines.dropFirst() {
            value += line.isEmpty ? "\n ." : "\n " + line
        }
        return value
    }

    /// Throws unless writing this field and parsing the text back gives this very name and
    /// value: a name of printable ASCII, a value with no control characters, whose every line
    /// after the first is indented and not blank, and whose first line has no surrounding
    /// whitespace. A value that broke these rules would end its stanza early or run into the
    /// next one for every reader of the index.
    public func checkRepresentable() throws(UnrepresentableField) {
        func refuse(_ reason: String) -> UnrepresentableField { UnrepresentableField(name: name, reason: reason) }
        let nameBytes = name.utf8
        guard let firstOfName = nameBytes.first else { throw refuse("the name is empty") }
        guard firstOfName != UInt8(ascii: "-"), firstOfName != UInt8(ascii: "#"),
            nameBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") })
        else { throw refuse("the name is not printable ASCII without spaces or colons") }
        guard verbatimValue == nil else { return }  // as parsed, so it parses back

        // One pass, no allocation: this runs for every field of every pushed package.
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
        let newline = UInt8(ascii: "\n")
        var onFirstLine = true
        var atLineStart = false
        var lineHasText = false
        var previous: UInt8 = 0
        for byte in value.utf8 {
            guard isDeb822TextByte(byte) else {
                throw refuse("the value holds a control character (\(Deb822Error.controlCharacterName(byte)))")
            }
            if byte == newline {
                if onFirstLine {
                    guard !isSpace(previous) else { throw refuse("the first line of the value ends with whitespace") }
                    onFirstLine = false
                } else if !lineHasText {
                    throw refuse("a line of the value is blank, so it would end the stanza")
                }
                atLineStart = true
                lineHasText = false
            } else if atLineStart {
                guard isSpace(byte) else {
                    throw refuse("a line of the value is not indented, so it would be read as a field of its own")
                }
                atLineStart = false
            } else if onFirstLine && previous == 0 && isSpace(byte) {
                throw refuse("the first line of the value starts with whitespace")
            } else if !isSpace(byte) {
                lineHasText = true
            }
            previous = byte
        }
        if onFirstLine {
            guard !isSpace(previous) else { throw refuse("the first line of the value ends with whitespace") }
        } else if !lineHasText {
            throw refuse("a line of the value is blank, so it would end the stanza")
        }
    }

    /// At least the bytes `render` writes.
    var renderedSize: Int {
        leadingComments.utf8.count + name.utf8.count + (verbatimValue ?? value).utf8.count + 3
    }

    func render(into output: inout String) {
        output += leadingComments
        output += name
        output += ":"
        if let verbatimValue {
            output += verbatimValue
        } else if value.first == "\n" || value.isEmpty {
            output += value
        } else {
            output += " "
            output += value
        }
        output += "\n"
    }
}
