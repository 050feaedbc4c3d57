#pragma once
namespace pmdb { enum class sql_dialect { sqlite, postgresql }; }
