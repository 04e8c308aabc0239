import Foundation

/// Builds a `.deb` around a control file of any bytes, in memory: for control files that
/// dpkg-deb refuses to build (a NUL in a field, a broken `Depends`), and fast enough for a
/// fuzz test to make thousands. The control and data archives are uncompressed tars, which
/// dpkg reads.
public enum DebAssembler {
    public static func package(control: [UInt8], data: [UInt8] = Array("payload\n".utf8)) -> [UInt8] {
        var archive = Array("!<arch>\n".utf8)
        appendMember("debian-binary", Array("2.0\n".utf8), to: &archive)
        appendMember("control.tar", tar([("./control", control)]), to: &archive)
        appendMember("data.tar", tar([("./usr/share/doc/assembled/README", data)]), to: &archive)
        return archive
    }

    /// Writes `package(control:)` to a new file in `directory` and returns its path.
    public static func write(
        control: [UInt8], data: [UInt8] = Array("payload\n".utf8), in directory: URL, name: String
    ) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(package(control: control, data: data)).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// One ar member: a 60-byte header, the bytes, a newline to an even offset.
    private static func appendMember(_ name: String, _ bytes: [UInt8], to archive: inout [UInt8]) {
        func field(_ text: String, _ width: Int) -> [UInt8] {
            Array(text.utf8) + Array(repeating: 0x20, count: width - text.utf8.count)
        }
        archive += field(name, 16) + field("0", 12) + field("0", 6) + field("0", 6) + field("100644", 8)
        archive += field(String(bytes.count), 10) + Array("`\n".utf8)
        archive += bytes
        if bytes.count % 2 == 1 { archive.append(0x0A) }
    }

    /// A ustar archive of regular files.
    private static func tar(_ files: [(name: String, bytes: [UInt8])]) -> [UInt8] {
        var output: [UInt8] = []
        for (name, bytes) in files {
            var header = [UInt8](repeating: 0, count: 512)
            func put(_ text: String, at offset: Int) {
                for (index, byte) in text.utf8.enumerated() { header[offset + index] = byte }
            }
            func octal(_ value: Int, width: Int) -> String {
                let digits = String(value, radix: 8)
                return String(repeating: "0", count: width - 1 - digits.count) + digits
            }
            put(name, at: 0)
            put(octal(0o644, width: 8), at: 100)
            put(octal(0, width: 8), at: 108)
            put(octal(0, width: 8), at: 116)
            put(octal(bytes.count, width: 12), at: 124)
            put(octal(1_700_000_000, width: 12), at: 136)
            put("0", at: 156)
            put("ustar", at: 257)
            put("00", at: 263)
            put("root", at: 265)
            put("root", at: 297)
            // The checksum is taken with its own field as eight spaces.
            for index in 148..<156 { header[index] = 0x20 }
            let checksum = header.reduce(0) { $0 + Int($1) }
            put(octal(checksum, width: 7), at: 148)
            header[154] = 0
            header[155] = 0x20
            output += header + bytes
            output += [UInt8](repeating: 0, count: (512 - bytes.count % 512) % 512)
        }
        return output + [UInt8](repeating: 0, count: 1024)
    }
}
