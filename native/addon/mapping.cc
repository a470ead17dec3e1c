// `Mapping`: a read-only mmap of a file, and byte access for the other modules (mapping.h).
#include "mapping.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "module.h"

namespace rosetta_addon {

MappedFile::~MappedFile() {
  if (data != nullptr) munmap(const_cast<uint8_t*>(data), size);
}

namespace {

// Distinguishes Mapping objects from any other wrapped object, without per-env instance data.
const napi_type_tag kMappingTag = {0x726f736574746121ULL, 0x6d617070696e6721ULL};

std::string sys_error(const std::string& what, const std::string& path, int err) {
  return what + " " + path + ": " + std::strerror(err);
}

std::shared_ptr<MappedFile> map_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(sys_error("cannot open", path, errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error(sys_error("cannot stat", path, err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::runtime_error("cannot map " + path + ": not a regular file");
  }
  auto m = std::make_shared<MappedFile>();
  m->path = path;
  m->size = (size_t)st.st_size;
  if (m->size > 0) {
    void* p = mmap(nullptr, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw std::runtime_error(sys_error("cannot mmap", path, err));
    }
    m->data = static_cast<const uint8_t*>(p);
#ifdef MADV_HUGEPAGE
    // Weights are streamed start to end every token: pages of the file read from disk through this
    // mapping come in as 2 MB folios where the kernel and file system can (one TLB entry per 2 MB). A
    // file already in the page cache keeps the folios it has (docs/engine.md, "Page cache"). Advice
    // only: failure changes nothing.
    (void)madvise(p, m->size, MADV_HUGEPAGE);
#endif
  }
  ::close(fd);  // the mapping keeps the pages; the descriptor is no longer needed
  return m;
}

class Mapping : public Napi::ObjectWrap<Mapping> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Mapping",
                       {InstanceAccessor<&Mapping::Size>("size"), InstanceAccessor<&Mapping::Path>("path"),
                        InstanceAccessor<&Mapping::Closed>("closed"), InstanceMethod<&Mapping::Close>("close")});
  }

  explicit Mapping(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Mapping>(info) {
    guard(info.Env(), [&] {
      file_ = map_file(arg_string(info, 0, "Mapping(path): path"));
      size_ = file_->size;
      path_ = file_->path;
      napi_type_tag_object(info.Env(), info.This(), &kMappingTag);
    });
  }

  std::shared_ptr<const MappedFile> file() const { return file_; }
  const std::string& path() const { return path_; }

  // External ArrayBuffers over the mapping, one per 1 GiB segment start, each reaching at most 4 GiB
  // (V8's ArrayBuffer limit in Node 20) or to the end of the file: a window [offset, offset + length) is
  // a view into the segment where it starts, so any window up to 3 GiB long works in a file of any size.
  // No address is registered with V8 twice (segment starts differ); every buffer holds its own reference
  // to the file.
  static constexpr size_t kSegment = size_t(1) << 30;
  static constexpr size_t kMaxBuffer = size_t(1) << 32;

  Napi::Uint8Array window(Napi::Env env, uint64_t offset, uint64_t length) {
    const size_t seg = (size_t)(offset / kSegment);
    const size_t start = seg * kSegment;
    const size_t len = std::min(file_->size - start, kMaxBuffer);
    if (offset + length > start + len) {
      throw ArgError("mappingBytes: a window of " + std::to_string(length) + " bytes is longer than a view can be (3 GiB)");
    }
    if (segments_.size() <= seg) segments_.resize(seg + 1);
    Napi::ArrayBuffer ab;
    if (!segments_[seg].IsEmpty()) {
      ab = segments_[seg].Value();
    } else if (len == 0) {
      ab = Napi::ArrayBuffer::New(env, 0);
      segments_[seg] = Napi::Persistent(ab);
    } else {
      auto* hold = new std::shared_ptr<const MappedFile>(file_);
      ab = Napi::ArrayBuffer::New(
          env, const_cast<uint8_t*>(file_->data) + start, len,
          [](Napi::Env, void*, std::shared_ptr<const MappedFile>* h) { delete h; }, hold);
      segments_[seg] = Napi::Persistent(ab);
    }
    return Napi::Uint8Array::New(env, (size_t)length, ab, (size_t)(offset - start));
  }

 private:
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), (double)size_); }
  Napi::Value Path(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), path_); }
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !file_); }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    file_.reset();  // pages go when the last view made by mappingBytes is collected
    segments_.clear();
    return info.Env().Undefined();
  }

  std::shared_ptr<const MappedFile> file_;
  std::vector<Napi::Reference<Napi::ArrayBuffer>> segments_;
  size_t size_ = 0;
  std::string path_;
};

Mapping* unwrap_mapping(Napi::Value v) {
  if (!v.IsObject()) return nullptr;
  bool tagged = false;
  if (napi_check_object_type_tag(v.Env(), v, &kMappingTag, &tagged) != napi_ok || !tagged) return nullptr;
  return Mapping::Unwrap(v.As<Napi::Object>());
}

Mapping* open_mapping_or_throw(Napi::Value v, const char* what) {
  Mapping* m = unwrap_mapping(v);
  if (m == nullptr) throw ArgError(std::string(what) + " must be a Mapping");
  if (!m->file()) throw ArgError(std::string(what) + ": mapping of " + m->path() + " is closed");
  return m;
}

// mappingBytes(mapping, offset, length): a Uint8Array over the mapped bytes (no copy), bounds-checked.
Napi::Value MappingBytes(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Mapping* m = open_mapping_or_throw(info[0], "mappingBytes: first argument");
    const uint64_t offset = arg_index(info, 1, "offset");
    const uint64_t length = arg_index(info, 2, "length");
    check_range(offset, length, m->file()->size, "mappingBytes", m->path().c_str());
    return m->window(info.Env(), offset, length);
  });
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Mapping", Mapping::Define(env));
  exports.Set("mappingBytes", Napi::Function::New(env, MappingBytes, "mappingBytes"));
}

}  // namespace

bool is_mapping(Napi::Value v) { return unwrap_mapping(v) != nullptr; }

std::shared_ptr<const MappedFile> mapping_ref(Napi::Value v) {
  Mapping* m = unwrap_mapping(v);
  if (m == nullptr) throw TypeErr("expected a Mapping (got " + describe(v) + ")");
  if (!m->file()) throw Napi::Error::New(v.Env(), "mapping of " + m->path() + " is closed");
  return m->file();
}

const uint8_t* mapping_data(Napi::Value v, size_t* size) {
  std::shared_ptr<const MappedFile> f = mapping_ref(v);
  *size = f->size;
  return f->data;
}

const uint8_t* source_bytes(Napi::Value v, size_t* size, const char* what) {
  if (unwrap_mapping(v) != nullptr) return mapping_data(v, size);
  if (v.IsArrayBuffer()) {
    Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
    *size = ab.ByteLength();
    return static_cast<const uint8_t*>(ab.Data());
  }
  if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    *size = ta.ByteLength();
    return static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  }
  if (v.IsDataView()) {
    Napi::DataView dv = v.As<Napi::DataView>();
    *size = dv.ByteLength();
    return static_cast<const uint8_t*>(dv.ArrayBuffer().Data()) + dv.ByteOffset();
  }
  throw TypeErr(std::string(what) + " must be a Mapping, ArrayBuffer, TypedArray or DataView (got " + describe(v) + ")");
}

ROSETTA_ADDON_MODULE(mapping, Init);

}  // namespace rosetta_addon
