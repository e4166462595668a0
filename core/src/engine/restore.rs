//! Sans-IO restore (see the restore helper).
