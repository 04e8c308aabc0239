#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A sequence of deb822 paragraphs separated by blank lines: a control file, a `Packages`
/// or `Release` index, `depot.conf`, dpkg's `status`.
///
/// Parsing keeps everything needed to write the same bytes back: the spelling of field
/// names, blank lines and comments between paragraphs, and non-canonical spacing.
public struct Deb822Document: Sendable, Hashable {
    public var paragraphs: [Deb822Paragraph]
    /// Blank lines and comments after the last paragraph.
    public var trailingTrivia: String
    /// True when the source's last field line had no terminating newline.
    var lacksFinalNewline: Bool

    public init(_ paragraphs: [Deb822Paragraph] = []) {
        self.paragraphs = paragraphs
        self.trailingTrivia = ""
        self.lacksFinalNewline = false
    }

    /// Parses deb822 text. `allowComments` accepts `#` comment lines, as files written by
    /// people do (`debian/control`, `depot.conf`); machine indices (`Packages`, `Release`)
    /// do not have them.
    public init(parsing text: String, allowComments: Bool = false) throws(Deb822Error) {
        var text = text
        let result = text.withUTF8 { bytes in
            Result { () throws(Deb822Error) in
                try Deb822Parser(bytes: bytes, allowComments: allowComments).parse()
            }
        }
        self = try result.get()
    }

    public init(parsing bytes: [UInt8], allowComments: Bool = false) throws(Deb822Error) {
        let result = bytes.withUnsafeBufferPointer { bytes in
            Result { () throws(Deb822Error) in
                try Deb822Parser(bytes: bytes, allowComments: allowComments).parse()
            }
        }
        self = try result.get()
    }

    /// The document's text. Paragraphs built in code are separated by one blank line.
    public func rendered() -> String {
        var output = ""
        output.reserveCapacity(paragraphs.count * 512)
        for (index, paragraph) in paragraphs.enumerated() {
            if index > 0 && paragraph.leadingTrivia.isEmpty { output += "\n" }
            output += paragraph.leadingTrivia
            paragraph.render(into: &output)
        }
        if lacksFinalNewline && trailingTrivia.isEmpty, output.last == "\n" {
            output.removeLast()
        }
        output += trailingTrivia
        return output
    }
}

/// A single pass over the bytes, making Strings only for names and values.
struct Deb822Parser {
    let bytes: UnsafeBufferPointer<UInt8>
    let allowComments: Bool

    private static let newline = UInt8(ascii: "\n")
    private static let space = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")
    private static let colon = UInt8(ascii: ":")
    private static let hash = UInt8(ascii: "#")
    private static let carriageReturn = UInt8(ascii: "\r")

    /// Where the field being read lies in `bytes`.
    private struct PendingField {
        var nameStart: Int
        var colon: Int
        var firstLineEnd: Int
        var lastLineEnd: Int
        var line: Int
        var commentsStart: Int?
        var commentsEnd: Int
    }

    init(bytes: UnsafeBufferPointer<UInt8>, allowComments: Bool) {
        self.bytes = bytes
        self.allowComments = allowComments
    }

    func parse() throws(Deb822Error) -> Deb822Document {
        var document = Deb822Document()
        var triviaStart = 0
        var inParagraph = false
        var paragraphTrivia = ""
        var fields: [Deb822Field] = []
        var fieldLines: [(nameStart: Int, nameEnd: Int, line: Int)] = []
        var pending: PendingField?
        var commentsStart: Int?
        var commentsEnd = 0
        var lineNumber = 0
        var position = 0
        let end = bytes.count

        func finishField() throws(Deb822Error) {
            guard let field = pending else { return }
            fields.append(try makeField(field))
            pending = nil
        }

        func finishParagraph(at lineStart: Int) throws(Deb822Error) {
            try finishField()
            var trailing = ""
            if let start = commentsStart { trailing = try string(start..<commentsEnd, line: lineNumber) }
            document.paragraphs.append(
                Deb822Paragraph(fields: fields, leadingTrivia: paragraphTrivia, trailingComments: trailing))
            fields.removeAll(keepingCapacity: true)
            fieldLines.removeAll(keepingCapacity: true)
            commentsStart = nil
            inParagraph = false
            triviaStart = lineStart
        }

        while position < end {
            lineNumber += 1
            let lineStart = position
            let lineEnd = findNewline(from: lineStart)
            position = lineEnd < end ? lineEnd + 1 : end
            if lineEnd > lineStart && bytes[lineEnd - 1] == Self.carriageReturn {
                throw Deb822Error(line: lineNumber, problem: .carriageReturnLineEnding)
            }
            let first = bytes[lineStart]

            if isBlank(lineStart..<lineEnd) {
                if inParagraph { try finishParagraph(at: lineStart) }
            } else if first == Self.hash {
                guard allowComments else { throw Deb822Error(line: lineNumber, problem: .commentNotAllowed) }
                if inParagraph {
                    try finishField()
                    if commentsStart == nil { commentsStart = lineStart }
                    commentsEnd = position
                }
            } else if first == Self.space || first == Self.tab {
                guard pending != nil, commentsStart == nil else {
                    throw Deb822Error(line: lineNumber, problem: .continuationLineWithoutField)
                }
                pending!.lastLineEnd = lineEnd
            } else {
                if !inParagraph {
                    inParagraph = true
                    paragraphTrivia = try string(triviaStart..<lineStart, line: lineNumber)
                }
                try finishField()
                let colon = try findColon(lineStart..<lineEnd, line: lineNumber)
                for seen in fieldLines where sameName(seen.nameStart..<seen.nameEnd, lineStart..<colon) {
                    throw Deb822Error(
                        line: lineNumber,
                        problem: .duplicateField(
                            try string(lineStart..<colon, line: lineNumber), firstSeenOnLine: seen.line))
                }
                fieldLines.append((lineStart, colon, lineNumber))
                pending = PendingField(
                    nameStart: lineStart, colon: colon, firstLineEnd: lineEnd, lastLineEnd: lineEnd,
                    line: lineNumber, commentsStart: commentsStart, commentsEnd: commentsEnd)
                commentsStart = nil
            }
        }

        if inParagraph {
            document.lacksFinalNewline = bytes[end - 1] != Self.newline
            try finishParagraph(at: end)
        }
        document.trailingTrivia = try string(triviaStart..<end, line: lineNumber)
        return document
    }

    private func makeField(_ field: PendingField) throws(Deb822Error) -> Deb822Field {
        let name = try string(field.nameStart..<field.colon, line: field.line)
        var valueStart = field.colon + 1
        while valueStart < field.firstLineEnd, bytes[valueStart] == Self.space || bytes[valueStart] == Self.tab {
            valueStart += 1
        }
        var firstEnd = field.firstLineEnd
        while firstEnd > valueStart, bytes[firstEnd - 1] == Self.space || bytes[firstEnd - 1] == Self.tab {
            firstEnd -= 1
        }
        let value: String
        if firstEnd == field.firstLineEnd {
            value = try string(valueStart..<field.lastLineEnd, line: field.line)
        } else {
            value =
                try string(valueStart..<firstEnd, line: field.line)
                + string(field.firstLineEnd..<field.lastLineEnd, line: field.line)
        }
        let nothingAfterColon = field.colon + 1 == field.firstLineEnd
        let oneSpaceThenValue =
            valueStart == field.colon + 2 && bytes[field.colon + 1] == Self.space
            && valueStart < firstEnd && firstEnd == field.firstLineEnd
        let verbatim =
            nothingAfterColon || oneSpaceThenValue
            ? nil : try string(field.colon + 1..<field.lastLineEnd, line: field.line)
        let comments = try field.commentsStart.map { start throws(Deb822Error) in
            try string(start..<field.commentsEnd, line: field.line)
        }
        return Deb822Field(name: name, value: value, leadingComments: comments ?? "", verbatimValue: verbatim)
    }

    private func findNewline(from start: Int) -> Int {
        guard let base = bytes.baseAddress else { return start }
        guard let found = memchr(base + start, Int32(Self.newline), bytes.count - start) else { return bytes.count }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }

    private func isBlank(_ range: Range<Int>) -> Bool {
        for index in range where bytes[index] != Self.space && bytes[index] != Self.tab { return false }
        return true
    }

    private func findColon(_ line: Range<Int>, line number: Int) throws(Deb822Error) -> Int {
        guard let colon = line.first(where: { bytes[$0] == Self.colon }) else {
            throw Deb822Error(line: number, problem: .missingColon)
        }
        guard colon > line.lowerBound else { throw Deb822Error(line: number, problem: .emptyFieldName) }
        let name = line.lowerBound..<colon
        if bytes[name.lowerBound] == UInt8(ascii: "-")
            || name.contains(where: { bytes[$0] <= 0x20 || bytes[$0] >= 0x7F })
        {
            let spelled = String(decoding: bytes[name], as: UTF8.self)
            throw Deb822Error(line: number, problem: .invalidFieldName(spelled))
        }
        return colon
    }

    private func sameName(_ lhs: Range<Int>, _ rhs: Range<Int>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for offset in 0..<lhs.count {
            let a = bytes[lhs.lowerBound + offset]
            let b = bytes[rhs.lowerBound + offset]
            if a != b && asciiLowercased(a) != asciiLowercased(b) { return false }
        }
        return true
    }

    private func string(_ range: Range<Int>, line: Int) throws(Deb822Error) -> String {
        guard !range.isEmpty else { return "" }
        let slice = UnsafeBufferPointer(rebasing: bytes[range])
        if let offset = slice.firstIndex(where: { !isDeb822TextByte($0) }) {
            let lineOfControl = line + slice[..<offset].count(where: { $0 == Self.newline })
            throw Deb822Error(line: lineOfControl, problem: .controlCharacter(slice[offset]))
        }
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw Deb822Error(line: line, problem: .invalidUTF8)
        }
        return text
    }
}
