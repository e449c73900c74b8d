#!/usr/bin/env python3
"""Proves scripts/check_layering.py catches each kind of violation and passes clean code."""
import pathlib
import subprocess
import sys
import tempfile
import unittest

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "check_layering.py"


def run(root):
    r = subprocess.run([sys.executable, str(SCRIPT), "--root", str(root)],
                       capture_output=True, text=True)
    return r.returncode, r.stdout


class CheckLayeringTest(unittest.TestCase):
    def make_tree(self, files):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        root = pathlib.Path(tmp.name)
        for rel, text in files.items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        return root

    def test_clean_tree_passes(self):
        root = self.make_tree({
            "server/engine/engine.cc": '#include "server/engine/engine.h"\n#include <map>\n'
                                       '#include "base/time.h"\n// system_clock::now() in a comment\n',
            "server/engine/CMakeLists.txt": "target_link_libraries(tessera_engine PUBLIC tessera::base)\n",
            "base/system_clock.cc": "auto t = std::chrono::system_clock::now();\n",
        })
        code, out = run(root)
        self.assertEqual(code, 0, out)

    def test_engine_including_asio_fails(self):
        root = self.make_tree({"server/engine/engine.cc": "#include <boost/asio.hpp>\n"})
        code, out = run(root)
        self.assertEqual(code, 1)
        self.assertIn("engine includes Asio/Boost header", out)

    def test_engine_including_each_forbidden_library_fails(self):
        for inc, what in [("sqlite3.h", "SQLite"), ("google/protobuf/message.h", "protobuf"),
                          ("protocol/tessera.pb.h", "protobuf"), ("openssl/evp.h", "OpenSSL"),
                          ("tss2/tss2_esys.h", "tpm2-tss"), ("p11-kit/pkcs11.h", "PKCS#11")]:
            with self.subTest(inc=inc):
                root = self.make_tree({"server/engine/x.h": f"#include <{inc}>\n"})
                code, out = run(root)
                self.assertEqual(code, 1)
                self.assertIn(what, out)

    def test_engine_including_server_code_fails(self):
        root = self.make_tree({"server/engine/x.cc": '#include "server/net/listener.h"\n'})
        code, out = run(root)
        self.assertEqual(code, 1)
        self.assertIn("outside base/", out)

    def test_engine_linking_more_than_base_fails(self):
        root = self.make_tree({"server/engine/CMakeLists.txt":
                               "target_link_libraries(tessera_engine PUBLIC tessera::base SQLite::SQLite3)\n"})
        code, out = run(root)
        self.assertEqual(code, 1)
        self.assertIn("links SQLite::SQLite3", out)

    def test_real_clock_outside_system_clock_fails(self):
        for line in ["auto t = std::chrono::steady_clock::now();",
                     "auto t = std::chrono::system_clock::now();",
                     "gettimeofday(&tv, nullptr);", "clock_gettime(CLOCK_REALTIME, &ts);",
                     "time_t t = time(nullptr);"]:
            with self.subTest(line=line):
                root = self.make_tree({"server/net/session.cc": line + "\n"})
                code, out = run(root)
                self.assertEqual(code, 1)
                self.assertIn("server/net/session.cc:1: reads the real clock", out)

    def test_real_tree_is_clean(self):
        code, out = run(SCRIPT.parents[1])
        self.assertEqual(code, 0, out)


if __name__ == "__main__":
    unittest.main()
