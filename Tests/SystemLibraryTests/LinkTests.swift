import CArchive
import CBZip2
import CDeflate
import CGPGME
import CLZMA
import COpenSSLCrypto
import Testing

/// Each system library target must find its headers and link on a fresh machine.
@Suite struct LinkTests {
    @Test func everySystemLibraryLinksAndReportsItsVersion() {
        #expect(String(cString: archive_version_string()).hasPrefix("libarchive 3."))
        #expect(String(cString: BZ2_bzlibVersion()).hasPrefix("1."))
        #expect(gpgme_check_version(nil) != nil)
        #expect(String(cString: lzma_version_string()).hasPrefix("5."))
        #expect(String(cString: LIBDEFLATE_VERSION_STRING).hasPrefix("1."))
        #expect(libdeflate_alloc_compressor(6).map { libdeflate_free_compressor($0) } != nil)
        #expect(String(cString: OpenSSL_version(0)).hasPrefix("OpenSSL 3."))
    }
}
