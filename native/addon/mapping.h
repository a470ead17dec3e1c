// Read-only file mappings shared by the addon modules (implementation: mapping.cc).
//
// A JS `Mapping` owns a reference to a MappedFile; so does every external Uint8Array view made by
// `mappingBytes`. `mapping.close()` drops the Mapping's reference; the pages are unmapped when the last
// reference goes, so a view that outlives close() never dangles.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace rosetta_addon {

struct MappedFile {
  const uint8_t* data = nullptr;  // nullptr for an empty file
  size_t size = 0;
  std::string path;
  ~MappedFile();
};

// True if v is a Mapping object (open or closed).
bool is_mapping(Napi::Value v);

// Bytes of an open Mapping: returns the base pointer and sets *size. Throws a JS Error (Napi::Error)
// if v is not a Mapping or is closed. The pointer stays valid while the Mapping is open; hold the
// shared_ptr from mapping_ref() to keep the bytes alive across an asynchronous call.
const uint8_t* mapping_data(Napi::Value v, size_t* size);
std::shared_ptr<const MappedFile> mapping_ref(Napi::Value v);

// Bytes of a Mapping, ArrayBuffer, TypedArray, DataView or Buffer (the view's own window).
// Throws a TypeError (napi_args.h ArgError) naming `what` for anything else; call it inside guard().
const uint8_t* source_bytes(Napi::Value v, size_t* size, const char* what);

}  // namespace rosetta_addon
