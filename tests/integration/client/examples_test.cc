// The C and Python examples, and the installed package (pkg-config and find_package), against
// a real tesserad.
#include <gtest/gtest.h>

#include "tests/integration/client/client_fixture.h"

namespace tessera::client::testing {
namespace {

class ClientExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FeatureSpec cad;
    cad.seats = 1;
    server_ = StartServer(dir_.File("server"), {cad});
    ASSERT_NE(server_, nullptr);
    servers_env_ = "TESSERA_SERVERS=127.0.0.1:" + std::to_string(server_->port());
    auto observer = Client::Create(LocalOptions({server_->port()}));
    ASSERT_TRUE(observer.ok());
    observer_ = std::move(observer).value();
  }

  // Environment for a program that is not built with our sanitizers but loads the library
  // that is (python3, or the example built through pkg-config).
  static std::vector<std::string> Foreign(std::vector<std::string> env) {
    const std::string runtime = TESSERA_ASAN_RUNTIME;
    if (!runtime.empty()) {
      env.push_back("LD_PRELOAD=" + runtime);
      env.push_back("ASAN_OPTIONS=detect_leaks=0");
    }
    return env;
  }

  void SkipUnderThreadSanitizer() {
    if (std::string(TESSERA_SANITIZE).find("thread") != std::string::npos) {
      GTEST_SKIP() << "a TSan-built library cannot be loaded into an uninstrumented program";
    }
  }

  // Runs a shell command line in the temp dir; returns its exit code.
  int Shell(const std::string& command, std::vector<std::string> env = {}) {
    ChildProcess child({"/bin/sh", "-c", command}, std::move(env), dir_.path());
    const int code = child.Wait(std::chrono::minutes(3));
    last_out_ = child.Stdout();
    last_err_ = child.Stderr();
    return code;
  }

  tessera::testing::TempDir dir_{"client-examples"};
  std::unique_ptr<tessera::testing::TesseradProcess> server_;
  std::unique_ptr<Client> observer_;
  std::string servers_env_;
  std::string last_out_;
  std::string last_err_;
};

TEST_F(ClientExamplesTest, CExampleChecksOutPrintsAndChecksIn) {
  ASSERT_EQ(Shell(BuildPath("client/tessera-example-c") + " cad 2.0", {servers_env_}), 0)
      << last_err_;
  EXPECT_NE(last_out_.find("granted lease"), std::string::npos) << last_out_;
  EXPECT_NE(last_out_.find("feature cad in_use=1 seats=1"), std::string::npos) << last_out_;
  EXPECT_NE(last_out_.find("checked in"), std::string::npos) << last_out_;
  EXPECT_EQ(InUse(*observer_, "cad"), 0);
}

TEST_F(ClientExamplesTest, CExampleReportsADenial) {
  auto held = observer_->Checkout(Request("cad"));
  ASSERT_TRUE(held.ok() && held->granted());
  EXPECT_EQ(Shell(BuildPath("client/tessera-example-c") + " cad 2.0", {servers_env_}), 2);
  EXPECT_NE(last_err_.find("no_seats"), std::string::npos) << last_err_;
}

TEST_F(ClientExamplesTest, PythonExampleChecksOutPrintsAndChecksIn) {
  SkipUnderThreadSanitizer();
  ASSERT_EQ(Shell("python3 " + SourcePath("examples/python/checkout.py") + " cad 2.0",
                  Foreign({servers_env_,
                           "TESSERA_CLIENT_LIB=" + BuildPath("client/libtessera-client.so")})),
            0)
      << last_err_;
  EXPECT_NE(last_out_.find("granted lease"), std::string::npos) << last_out_;
  EXPECT_NE(last_out_.find("checked in"), std::string::npos) << last_out_;
  EXPECT_EQ(InUse(*observer_, "cad"), 0);
}

TEST_F(ClientExamplesTest, InstalledPackageWorksThroughPkgConfigAndFindPackage) {
  SkipUnderThreadSanitizer();
  const std::string prefix = dir_.File("prefix").string();
  ASSERT_EQ(Shell(std::string(TESSERA_CMAKE_COMMAND) + " --install " + BuildPath("") +
                  " --component client --prefix " + prefix),
            0)
      << last_err_;
  const std::string pkg = "PKG_CONFIG_PATH=" + prefix + "/lib/pkgconfig";
  const std::string ld = "LD_LIBRARY_PATH=" + prefix + "/lib";

  // C, through pkg-config.
  ASSERT_EQ(Shell("cc -std=c99 -Wall -Werror " + SourcePath("examples/c/checkout.c") +
                      " $(pkg-config --cflags --libs tessera-client) -o checkout-c",
                  {pkg}),
            0)
      << last_err_;
  ASSERT_EQ(Shell("./checkout-c cad 2.0", Foreign({servers_env_, ld})), 0) << last_err_;
  EXPECT_NE(last_out_.find("granted lease"), std::string::npos) << last_out_;
  EXPECT_NE(last_out_.find("checked in"), std::string::npos) << last_out_;

  // C++, through pkg-config: the installed C++ header and its base/ headers are complete.
  ASSERT_EQ(Shell("c++ -std=c++20 -Wall -Werror " +
                      SourcePath("tests/integration/client/package_consumer.cc") +
                      " $(pkg-config --cflags --libs tessera-client) -o consumer-cxx",
                  {pkg}),
            0)
      << last_err_;
  ASSERT_EQ(Shell("./consumer-cxx", Foreign({servers_env_, ld})), 0) << last_err_;
  EXPECT_NE(last_out_.find("granted"), std::string::npos) << last_out_;

  // The installed CLI finds its library through its RPATH.
  ASSERT_EQ(Shell(prefix + "/bin/tessera-client status cad", {servers_env_}), 0) << last_err_;
  EXPECT_NE(last_out_.find("cad"), std::string::npos) << last_out_;

  // CMake, through find_package(TesseraClient).
  const std::string project = dir_.File("cmake-consumer").string();
  std::filesystem::create_directories(project);
  dir_.Write("cmake-consumer/CMakeLists.txt",
             "cmake_minimum_required(VERSION 3.25)\n"
             "project(consumer LANGUAGES C CXX)\n"
             "find_package(TesseraClient 0.1 REQUIRED)\n"
             "add_executable(consumer " +
                 SourcePath("examples/c/checkout.c") +
                 ")\n"
                 "target_link_libraries(consumer PRIVATE Tessera::client)\n");
  ASSERT_EQ(Shell(std::string(TESSERA_CMAKE_COMMAND) + " -S " + project + " -B " + project +
                  "/build -G Ninja -DCMAKE_PREFIX_PATH=" + prefix + " && " + TESSERA_CMAKE_COMMAND +
                  " --build " + project + "/build"),
            0)
      << last_out_ << last_err_;
  ASSERT_EQ(Shell(project + "/build/consumer cad 2.0", Foreign({servers_env_, ld})), 0)
      << last_err_;
  EXPECT_NE(last_out_.find("checked in"), std::string::npos) << last_out_;
}

}  // namespace
}  // namespace tessera::client::testing
