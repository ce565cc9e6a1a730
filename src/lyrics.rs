//! Lyrics
